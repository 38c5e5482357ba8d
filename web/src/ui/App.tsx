// The signed-in app: the conversation list beside the open thread (one or the other on a phone).
import { useEffect, useReducer, useState } from "preact/hooks";
import type { Chat } from "../store";
import { previewOf } from "../store";
import type { Conversation, Message } from "../types";
import { ThreadView } from "./Thread";
import { formatTime, presenceText } from "./format";

export function useChat(chat: Chat): void {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  useEffect(() => chat.subscribe(() => rerender(undefined)), [chat]);
}

export function App({ chat, onSignOut }: { chat: Chat; onSignOut: () => void }) {
  useChat(chat);
  const open = chat.openId ? chat.conversations.get(chat.openId) : undefined;
  const unread = [...chat.conversations.values()].reduce((total, c) => total + c.unread_count, 0);
  useEffect(() => {
    document.title = unread ? `(${unread}) Parley` : "Parley";
  }, [unread]);
  return (
    <div class="app" data-view={open ? "thread" : "list"}>
      {chat.connectionState === "offline" && (
        <div class="banner" role="status" data-testid="offline-banner">
          You are offline. Messages you send now are kept and go out when Parley is back.
        </div>
      )}
      {chat.error && (
        <div class="banner error" role="alert">
          {chat.error}{" "}
          <button type="button" class="link" onClick={() => ((chat.error = ""), chat.notify())}>
            Dismiss
          </button>
        </div>
      )}
      <Sidebar chat={chat} onSignOut={onSignOut} />
      {open ? (
        <ThreadView key={open.id} chat={chat} conversation={open} />
      ) : (
        <main class="thread empty" aria-label="No conversation open">
          <p>Pick a conversation, or start one with a user id.</p>
        </main>
      )}
      <div class="sr-only" aria-live="polite" aria-atomic="true">
        {chat.announcement}
      </div>
    </div>
  );
}

type Panel = { kind: "list" } | { kind: "search"; query: string; results: { message: Message; conversation: Conversation }[] } | { kind: "starred"; messages: Message[] };

function Sidebar({ chat, onSignOut }: { chat: Chat; onSignOut: () => void }) {
  const [peer, setPeer] = useState("");
  const [query, setQuery] = useState("");
  const [panel, setPanel] = useState<Panel>({ kind: "list" });

  async function start(event: Event) {
    event.preventDefault();
    const userId = peer.trim();
    if (!userId) return;
    try {
      await chat.startConversation(userId);
      setPeer("");
    } catch (e) {
      chat.error = e instanceof Error ? e.message : String(e);
      chat.notify();
    }
  }

  async function search(event: Event) {
    event.preventDefault();
    if (!query.trim()) return setPanel({ kind: "list" });
    try {
      const { results } = await chat.api.search(query.trim());
      setPanel({ kind: "search", query: query.trim(), results });
    } catch (e) {
      chat.error = e instanceof Error ? e.message : String(e);
      chat.notify();
    }
  }

  async function showStarred() {
    const { starred } = await chat.api.starred();
    setPanel({ kind: "starred", messages: starred.map((s) => s.message) });
  }

  const presenceOf = (userId: string) => chat.presence.get(userId);
  return (
    <nav class="sidebar" aria-label="Conversations">
      <header class="me">
        <span>
          Signed in as <strong data-testid="me">{chat.me}</strong>
        </span>
        <span class={`dot ${chat.connectionState === "online" ? "online" : ""}`} title={chat.connectionState} aria-hidden="true" />
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <form class="row" onSubmit={search} role="search">
        <label class="sr-only" for="search">
          Search messages
        </label>
        <input id="search" type="search" placeholder="Search messages" value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        <button type="submit">Search</button>
      </form>
      <form class="row" onSubmit={start}>
        <label class="sr-only" for="new-peer">
          Start a conversation with user id
        </label>
        <input id="new-peer" placeholder="Start a chat with user id" value={peer} onInput={(e) => setPeer((e.target as HTMLInputElement).value)} />
        <button type="submit">Start</button>
      </form>
      <div class="tabs">
        <button type="button" aria-pressed={panel.kind === "list"} onClick={() => setPanel({ kind: "list" })}>
          Chats
        </button>
        <button type="button" aria-pressed={panel.kind === "starred"} onClick={showStarred}>
          ★ Starred
        </button>
      </div>
      {panel.kind === "list" && (
        <ul class="conversations" aria-label="Your conversations">
          {chat.sortedConversations().map((c) => {
            const presence = presenceOf(c.peer_id);
            const typing = chat.typing.has(c.id);
            return (
              <li key={c.id}>
                <button
                  type="button"
                  class="conversation"
                  data-peer={c.peer_id}
                  aria-current={chat.openId === c.id ? "true" : undefined}
                  onClick={() => chat.open(c.id)}
                >
                  <span class={`dot ${presence?.status === "online" ? "online" : ""}`} aria-label={presenceText(presence)} role="img" />
                  <span class="name">{c.peer_id}</span>
                  <time class="when">{c.last_message ? formatTime(c.last_message.created_at) : ""}</time>
                  <span class="preview">
                    {typing ? (
                      <em>typing…</em>
                    ) : c.last_message ? (
                      <>
                        {c.last_message.sender_id === chat.me && "You: "}
                        {c.last_message.deleted ? <em>This message was deleted</em> : c.last_message.preview}
                      </>
                    ) : (
                      <em>No messages yet</em>
                    )}
                  </span>
                  {c.unread_count > 0 && (
                    <span class="badge" data-testid="unread" aria-label={`${c.unread_count} unread`}>
                      {c.unread_count}
                    </span>
                  )}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {panel.kind === "search" && (
        <FoundList
          chat={chat}
          label={`Results for “${panel.query}”`}
          items={panel.results.map((r) => ({ message: r.message, peer: r.conversation.peer_id }))}
        />
      )}
      {panel.kind === "starred" && (
        <FoundList
          chat={chat}
          label="Starred messages"
          items={panel.messages.map((m) => ({ message: m, peer: chat.conversations.get(m.conversation_id)?.peer_id ?? "" }))}
        />
      )}
    </nav>
  );
}

function FoundList({ chat, label, items }: { chat: Chat; label: string; items: { message: Message; peer: string }[] }) {
  return (
    <section class="found" aria-label={label}>
      <h2>{label}</h2>
      {items.length === 0 && <p class="hint">Nothing found.</p>}
      <ul class="conversations">
        {items.map(({ message, peer }) => (
          <li key={message.id}>
            <button type="button" class="conversation" onClick={() => chat.open(message.conversation_id)}>
              <span class="name">{message.sender_id === chat.me ? `You → ${peer}` : message.sender_id}</span>
              <time class="when">{formatTime(message.created_at)}</time>
              <span class="preview">{previewOf(message)}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
