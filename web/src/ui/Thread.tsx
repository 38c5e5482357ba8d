// One conversation: its history (older pages load as you scroll up), the typing line and the composer.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Chat, ChatMessage } from "../store";
import { previewOf } from "../store";
import type { Conversation } from "../types";
import { Attachments } from "./Media";
import { formatTime, presenceText } from "./format";

const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const TICKS = { sent: "✓", delivered: "✓✓", read: "✓✓" } as const;

export function ThreadView({ chat, conversation }: { chat: Chat; conversation: Conversation }) {
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const list = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);
  const heightBeforeOlder = useRef<number | null>(null);
  const thread = chat.thread(conversation.id);
  const messages = chat.messagesOf(conversation.id);
  const peerTyping = chat.typing.has(conversation.id);

  // Keep the view where the reader is: at the bottom for new messages, in place when older ones load.
  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    if (heightBeforeOlder.current !== null) {
      element.scrollTop += element.scrollHeight - heightBeforeOlder.current;
      heightBeforeOlder.current = null;
    } else if (stickToBottom.current) {
      element.scrollTop = element.scrollHeight;
    }
  });

  function onScroll() {
    const element = list.current!;
    stickToBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 60;
    if (element.scrollTop < 80 && thread.nextCursor && !thread.loading) {
      heightBeforeOlder.current = element.scrollHeight;
      chat.loadOlder(conversation.id);
    }
  }

  // A short history may not fill the view: nothing to scroll, so fetch more until it does.
  useEffect(() => {
    const element = list.current;
    if (element && thread.loaded && thread.nextCursor && !thread.loading && element.scrollHeight <= element.clientHeight) {
      chat.loadOlder(conversation.id);
    }
  });

  const presence = chat.presence.get(conversation.peer_id);
  return (
    <main class="thread" aria-label={`Conversation with ${conversation.peer_id}`}>
      <header class="thread-head">
        <button type="button" class="back" aria-label="Back to conversations" onClick={() => chat.open(null)}>
          ←
        </button>
        <div>
          <h2>{conversation.peer_id}</h2>
          <p class="status" data-testid="peer-status">
            {chat.connectionState !== "online" ? "waiting for the network…" : peerTyping ? "typing…" : presenceText(presence)}
          </p>
        </div>
      </header>
      <ol class="messages" ref={list} onScroll={onScroll} role="log" aria-label={`Messages with ${conversation.peer_id}`} tabIndex={0}>
        {thread.loading && <li class="hint">Loading…</li>}
        {thread.loaded && !thread.nextCursor && <li class="hint">The beginning of your conversation with {conversation.peer_id}.</li>}
        {messages.map((m) => (
          <MessageItem key={m.id} chat={chat} message={m} onReply={setReplyTo} />
        ))}
      </ol>
      <p class="typing" data-testid="typing" aria-live="polite">
        {peerTyping ? `${conversation.peer_id} is typing…` : ""}
      </p>
      {chat.uploading > 0 && (
        <p class="typing" role="status" data-testid="uploading">
          Uploading…
        </p>
      )}
      <Composer chat={chat} conversation={conversation} replyTo={replyTo} onSent={() => setReplyTo(null)} />
    </main>
  );
}

function MessageItem({ chat, message, onReply }: { chat: Chat; message: ChatMessage; onReply: (m: ChatMessage) => void }) {
  const [menu, setMenu] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (menu) menuRef.current?.querySelector<HTMLButtonElement>("button")?.focus(); // keyboard users land in it
  }, [menu]);
  const mine = message.sender_id === chat.me;
  const status = mine && !message.pending ? chat.statusOf(message) : null;
  const starred = message.starred;
  const myReaction = message.reactions.find((r) => r.user_id === chat.me)?.emoji ?? null;
  const close = (then: () => void) => () => {
    setMenu(false);
    then();
  };
  return (
    <li
      class={`message ${mine ? "mine" : "theirs"} ${message.deleted ? "deleted" : ""}`}
      data-id={message.id}
      data-seq={message.pending ? undefined : message.seq}
      data-status={message.pending ? "pending" : status ?? undefined}
      onKeyDown={(e) => {
        if (e.key === "Escape" && menu) {
          setMenu(false);
          toggle.current?.focus();
        }
      }}
    >
      <div class="bubble">
        <span class="sr-only">{mine ? "You" : message.sender_id}: </span>
        {message.reply_to && (
          <blockquote class="quote" data-testid="quote">
            <strong>{message.reply_to.sender_id === chat.me ? "You" : message.reply_to.sender_id}</strong>
            <span>{message.reply_to.deleted ? <em>This message was deleted</em> : message.reply_to.preview}</span>
          </blockquote>
        )}
        {message.deleted ? (
          <p class="tombstone" data-testid="tombstone">
            <em>{mine ? "You deleted this message" : "This message was deleted"}</em>
          </p>
        ) : (
          <>
            {message.attachments && <Attachments chat={chat} message={message} />}
            {message.content && <p class="text">{message.content}</p>}
          </>
        )}
        <span class="meta">
          {starred && <span aria-label="starred">★</span>}
          <time dateTime={message.created_at}>{formatTime(message.created_at)}</time>
          {message.pending && !message.failed && (
            <span class="ticks" aria-label="sending">
              🕓
            </span>
          )}
          {status && (
            <span class={`ticks ${status}`} aria-label={status} data-testid="ticks">
              {TICKS[status]}
            </span>
          )}
        </span>
        {message.failed && (
          <p class="error" role="alert">
            Not sent: {message.failed}{" "}
            <button type="button" class="link" onClick={() => chat.discardFailed(message)}>
              Dismiss
            </button>
          </p>
        )}
      </div>
      {message.reactions.length > 0 && (
        <ul class="reactions" aria-label="Reactions" data-testid="reactions">
          {message.reactions.map((r) => (
            <li key={r.user_id} title={r.user_id}>
              {r.emoji}
            </li>
          ))}
        </ul>
      )}
      {!message.pending && !message.deleted && (
        <div class="actions">
          <button type="button" class="more" ref={toggle} aria-haspopup="true" aria-expanded={menu} aria-label="Message actions" onClick={() => setMenu(!menu)}>
            ⋯
          </button>
          {menu && (
            <div class="menu" ref={menuRef} role="group" aria-label="Message actions">
              <div class="emoji" role="group" aria-label="React">
                {REACTIONS.map((emoji) => (
                  <button
                    type="button"
                    key={emoji}
                    aria-pressed={myReaction === emoji}
                    aria-label={`React ${emoji}`}
                    onClick={close(() => chat.react(message, myReaction === emoji ? null : emoji))}
                  >
                    {emoji}
                  </button>
                ))}
              </div>
              <button type="button" onClick={close(() => onReply(message))}>
                Reply
              </button>
              <button type="button" onClick={close(() => chat.toggleStar(message))}>
                {starred ? "Unstar" : "Star"}
              </button>
              <button type="button" onClick={close(() => chat.remove(message, true))}>
                Delete for me
              </button>
              {mine && (
                <button type="button" onClick={close(() => chat.remove(message, false))}>
                  Delete for everyone
                </button>
              )}
            </div>
          )}
        </div>
      )}
    </li>
  );
}

function Composer({
  chat,
  conversation,
  replyTo,
  onSent,
}: {
  chat: Chat;
  conversation: Conversation;
  replyTo: ChatMessage | null;
  onSent: () => void;
}) {
  const [text, setText] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const [recorder, setRecorder] = useState<MediaRecorder | null>(null);

  useEffect(() => input.current?.focus(), [replyTo, conversation.id]);

  function submit(event?: Event) {
    event?.preventDefault();
    const content = text.trim();
    if (!content) return;
    chat.send(conversation.id, content, replyTo);
    setText("");
    onSent();
  }

  function picked(kind: "image" | "file") {
    return (event: Event) => {
      const chooser = event.target as HTMLInputElement;
      const file = chooser.files?.[0];
      if (file) chat.sendMedia(conversation.id, kind, file, file.name);
      chooser.value = "";
    };
  }

  async function toggleRecording() {
    if (recorder) {
      recorder.stop();
      setRecorder(null);
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      // WebM/Opus where the browser records it (Chromium, Firefox), else MP4/AAC (Safari): both accepted.
      const webm = MediaRecorder.isTypeSupported("audio/webm;codecs=opus");
      const started = new MediaRecorder(stream, { mimeType: webm ? "audio/webm;codecs=opus" : "audio/mp4" });
      const chunks: Blob[] = [];
      started.ondataavailable = (e) => chunks.push(e.data);
      started.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        const type = webm ? "audio/webm" : "audio/mp4";
        chat.sendMedia(conversation.id, "audio", new Blob(chunks, { type }), webm ? "voice.webm" : "voice.m4a");
      };
      started.start();
      setRecorder(started);
    } catch (e) {
      chat.error = `The microphone is not available: ${e instanceof Error ? e.message : e}`;
      chat.notify();
    }
  }

  return (
    <form class="composer" onSubmit={submit}>
      {replyTo && (
        <div class="replying" data-testid="replying">
          <blockquote class="quote">
            <strong>Replying to {replyTo.sender_id === chat.me ? "yourself" : replyTo.sender_id}</strong>
            <span>{previewOf(replyTo)}</span>
          </blockquote>
          <button type="button" class="link" aria-label="Cancel reply" onClick={onSent}>
            ✕
          </button>
        </div>
      )}
      <div class="row">
        <label class="icon" title="Send a photo">
          <span aria-hidden="true">📷</span>
          <input type="file" id="attach-image" class="sr-only" aria-label="Send a photo" accept="image/jpeg,image/png,image/webp,image/gif" onChange={picked("image")} />
        </label>
        <label class="icon" title="Send a file">
          <span aria-hidden="true">📎</span>
          <input type="file" id="attach-file" class="sr-only" aria-label="Send a file" onChange={picked("file")} />
        </label>
        <button type="button" class={`icon ${recorder ? "recording" : ""}`} aria-label={recorder ? "Stop and send the voice message" : "Record a voice message"} onClick={toggleRecording}>
          {recorder ? "⏹" : "🎤"}
        </button>
        <label class="sr-only" for="composer-text">
          Message to {conversation.peer_id}
        </label>
        <textarea
          id="composer-text"
          ref={input}
          rows={1}
          placeholder="Message"
          value={text}
          maxLength={4096}
          onInput={(e) => {
            setText((e.target as HTMLTextAreaElement).value);
            chat.typed(conversation.id);
          }}
          onBlur={() => chat.stopTyping(conversation.id)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) submit(e);
          }}
        />
        <button type="submit" class="send">
          Send
        </button>
      </div>
    </form>
  );
}
