// The client's state and everything that changes it: conversations, threads, receipts, typing, presence,
// the outbox, and the frames of the socket. The UI reads it and calls its methods; it calls `notify`.
import { Api, ApiError } from "./api";
import { Connection, type ConnectionState } from "./connection";
import { Outbox, type OutboxEntry } from "./outbox";
import type { Attachment, ClientConfig, Conversation, Envelope, Message, MessageStatus, Presence } from "./types";

export interface ChatMessage extends Message {
  pending?: boolean; // typed here, not yet stored by Parley
  failed?: string; // refused by Parley: why
  localPreview?: string; // an image being uploaded: its object URL
}

export interface Thread {
  messages: Map<string, ChatMessage>; // by id; pending ones by "pending:<client_message_id>"
  nextCursor: string | null; // older history; null: the beginning is loaded
  loaded: boolean;
  loading: boolean;
}

const STATUS_RANK: Record<MessageStatus, number> = { sent: 0, delivered: 1, read: 2 };
const TYPING_SHOWN_MS = 3_000; // the receiver expires an indicator 3 s after the last start
const TYPING_REPEAT_MS = 2_000;
const RESEND_AFTER_MS = 8_000;
const SEEN_EVENTS_KEPT = 5_000;
const FOLLOW_UP_SYNC_MS = [3_000, 10_000];

export function newClientMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function previewOf(message: { type: string; content: string; deleted: boolean; attachments?: Attachment[] }): string {
  if (message.deleted) return "This message was deleted";
  const label = { image: "📷 Photo", audio: "🎤 Voice message", file: "📎 " + (message.attachments?.[0]?.file_name ?? "File") }[
    message.type
  ];
  if (label) return message.content ? `${label}: ${message.content}` : label;
  return message.content.slice(0, 100);
}

export class Chat {
  readonly api: Api;
  readonly conversations = new Map<string, Conversation>();
  readonly threads = new Map<string, Thread>();
  readonly presence = new Map<string, Presence>();
  readonly typing = new Map<string, number>(); // conversation -> timer clearing the indicator
  readonly hidden = new Set<string>(); // deleted for me in this tab
  readonly outbox: Outbox;
  connectionState: ConnectionState = "connecting";
  openId: string | null = null;
  announcement = "";
  uploading = 0; // uploads not yet judged and sent
  error = "";
  private readonly markers = new Map<string, { delivered: number; read: number }>(); // the peer's, per conversation
  private readonly myRead = new Map<string, number>(); // read marker sent per conversation
  private readonly seenEvents = new Set<string>();
  private readonly connection: Connection;
  private readonly listeners = new Set<() => void>();
  private readonly uploads = new Map<string, (ready: boolean, reason?: string) => void>();
  private typingSentAt = 0;
  private typingStopTimer = 0;
  private resendTimer = 0;
  private notifyQueued = false;
  private syncing = false;
  private followUpSyncs: number[] = [];
  private readonly acksAfterSync = new Map<string, Message>(); // a sync acks each conversation's latest once

  constructor(
    readonly me: string,
    token: string,
    config: ClientConfig,
  ) {
    this.api = new Api(config.api_url, token);
    this.outbox = new Outbox(me);
    this.connection = new Connection(
      config.ws_url,
      token,
      () => this.onOpen(),
      (frame) => this.onFrame(frame),
      (state) => {
        this.connectionState = state;
        this.notify();
      },
    );
    document.addEventListener("visibilitychange", () => this.openId && this.markRead(this.openId));
  }

  // ------------------------------------------------------------------------------------ plumbing

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      this.listeners.forEach((listener) => listener());
    });
  }

  private fail(error: unknown): void {
    this.error = error instanceof ApiError ? error.message : String(error);
    this.notify();
  }

  async start(): Promise<void> {
    for (const entry of this.outbox.entries) this.addPending(entry);
    await this.loadConversations().catch((e) => this.fail(e));
    this.connection.start();
    this.resendTimer = window.setInterval(() => this.flushOutbox(RESEND_AFTER_MS), 2_000);
  }

  stop(): void {
    clearInterval(this.resendTimer);
    this.connection.stop();
  }

  private async loadConversations(): Promise<void> {
    let cursor: string | null = null;
    do {
      const page: { conversations: Conversation[]; next_cursor: string | null } = await this.api.conversations(cursor);
      page.conversations.forEach((c) => this.putConversation(c));
      cursor = page.next_cursor;
    } while (cursor);
    this.notify();
  }

  private async loadPresence(): Promise<void> {
    const peers = [...new Set([...this.conversations.values()].map((c) => c.peer_id))];
    for (let i = 0; i < peers.length; i += 50) {
      const { presence } = await this.api.presence(peers.slice(i, i + 50));
      presence.forEach((p) => this.presence.set(p.user_id, p));
    }
    this.notify();
  }

  private putConversation(conversation: Conversation): void {
    this.conversations.set(conversation.id, conversation);
    const lastSeq = conversation.last_message?.seq ?? 0;
    const read = lastSeq - conversation.unread_count;
    this.myRead.set(conversation.id, Math.max(this.myRead.get(conversation.id) ?? 0, read));
  }

  sortedConversations(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => b.last_activity_at.localeCompare(a.last_activity_at));
  }

  // --------------------------------------------------------------------------------- connection

  private onOpen(): void {
    this.syncing = true;
    this.requestSync();
    this.loadPresence().catch(() => undefined);
    // A message sent while this device was away reaches the event log through the streams, a second or so
    // after its (missed) push: one sent just before this reconnect may not be in this sync yet. Look again.
    this.followUpSyncs.forEach(clearTimeout);
    this.followUpSyncs = FOLLOW_UP_SYNC_MS.map((ms) => window.setTimeout(() => this.requestSync(), ms));
  }

  private requestSync(): void {
    this.connection.send({ action: "sync", since: this.outbox.syncCursor, limit: 500 });
  }

  private afterSync(): void {
    this.syncing = false;
    this.acksAfterSync.forEach((m) => this.connection.send({ action: "ack", conversation_id: m.conversation_id, message_id: m.id }));
    this.acksAfterSync.clear();
    this.flushOutbox(0);
    if (this.openId) this.markRead(this.openId);
  }

  private onFrame(frame: Envelope): void {
    if (frame.id && frame.type !== "sync") {
      if (this.seenEvents.has(frame.id)) return; // a push and a sync may carry the same event
      this.seenEvents.add(frame.id);
      if (this.seenEvents.size > SEEN_EVENTS_KEPT) this.seenEvents.delete(this.seenEvents.values().next().value!);
    }
    const data = frame.data ?? {};
    switch (frame.type) {
      case "new_message":
        this.receive(data.message, true);
        break;
      case "message_ack":
        this.outbox.remove(data.client_message_id);
        this.receive(data.message, false);
        this.flushOutbox(RESEND_AFTER_MS);
        break;
      case "message_updated":
        this.receive(data.message, false);
        break;
      case "receipt":
        this.applyReceipt(frame.conversation_id!, data);
        break;
      case "typing":
        this.showTyping(frame.conversation_id!, data.state === "start");
        break;
      case "presence":
        this.presence.set(data.user_id, data);
        break;
      case "media_ready":
      case "media_rejected":
        this.uploads.get(data.media?.id ?? data.media_id)?.(frame.type === "media_ready", data.reason ?? data.media?.reason);
        break;
      case "sync":
        data.events.forEach((event: Envelope) => this.onFrame(event));
        this.outbox.syncCursor = data.next_cursor;
        if (data.has_more) this.requestSync();
        else this.afterSync();
        break;
      case "error":
        this.onErrorFrame(data);
        break;
    }
    this.notify();
  }

  private onErrorFrame(data: any): void {
    const code: string = data.error?.code ?? "";
    if (data.action === "sync") {
      if (code === "resync_required") {
        // The cursor is older than the event log: start over from the lists and the histories.
        this.outbox.syncCursor = null;
        this.threads.clear();
        this.loadConversations()
          .then(() => (this.openId ? this.loadOlder(this.openId) : undefined))
          .catch((e) => this.fail(e));
        this.connection.send({ action: "sync", since: null, limit: 500 });
      } else this.afterSync();
      return;
    }
    if (data.client_message_id && !["rate_limited", "unavailable", "internal_error"].includes(code)) {
      const entry = this.outbox.remove(data.client_message_id);
      const pending = entry && this.thread(entry.conversation_id).messages.get("pending:" + entry.client_message_id);
      if (pending) pending.failed = data.error?.message ?? code;
      this.flushOutbox(RESEND_AFTER_MS);
      return;
    }
    if (!data.client_message_id) this.error = data.error?.message ?? code;
  }

  // ---------------------------------------------------------------------------------- messages

  /** A conversation's last message and unread count after `message`, if it is newer than what it shows. */
  private moveLastMessage(conversation: Conversation, message: ChatMessage | Message): void {
    if (conversation.last_message && message.seq < conversation.last_message.seq) return;
    const fresh = !conversation.last_message || message.seq > conversation.last_message.seq;
    conversation.last_message = {
      id: message.id,
      seq: message.seq,
      sender_id: message.sender_id,
      type: message.type,
      preview: previewOf(message),
      created_at: message.created_at,
      status: message.status,
      deleted: message.deleted,
    };
    if (fresh) {
      conversation.last_activity_at = message.created_at;
      if (message.sender_id !== this.me) conversation.unread_count += 1;
      else this.myRead.set(message.conversation_id, message.seq); // sending reads what came before
    }
  }

  thread(conversationId: string): Thread {
    let thread = this.threads.get(conversationId);
    if (!thread) {
      thread = { messages: new Map(), nextCursor: null, loaded: false, loading: false };
      this.threads.set(conversationId, thread);
    }
    return thread;
  }

  /** The thread's messages, oldest first; pending ones last, in the order they were typed. */
  messagesOf(conversationId: string): ChatMessage[] {
    const all = [...this.thread(conversationId).messages.values()].filter((m) => !this.hidden.has(m.id));
    return all.sort((a, b) =>
      a.pending || b.pending ? Number(!!a.pending) - Number(!!b.pending) || a.created_at.localeCompare(b.created_at) : a.seq - b.seq,
    );
  }

  /** My message's ticks: the best of what it was loaded with and the peer's markers since. */
  statusOf(message: ChatMessage): MessageStatus {
    const marker = this.markers.get(message.conversation_id);
    let status = message.status;
    if (marker && message.seq <= marker.delivered && STATUS_RANK[status] < 1) status = "delivered";
    if (marker && message.seq <= marker.read) status = "read";
    return status;
  }

  private moveMarker(conversationId: string, status: MessageStatus, seq: number): void {
    const marker = this.markers.get(conversationId) ?? { delivered: 0, read: 0 };
    if (status === "read") marker.read = Math.max(marker.read, seq);
    if (status !== "sent") marker.delivered = Math.max(marker.delivered, seq);
    this.markers.set(conversationId, marker);
  }

  private receive(message: Message, isNew: boolean): void {
    if (!message) return;
    const thread = this.thread(message.conversation_id);
    const existing = thread.messages.get(message.id);
    thread.messages.delete("pending:" + message.client_message_id);
    thread.messages.set(message.id, { ...message, status: existing?.status ?? message.status });
    const mine = message.sender_id === this.me;
    const conversation = this.conversations.get(message.conversation_id);
    if (!conversation) {
      this.api
        .conversation(message.conversation_id)
        .then(({ conversation }) => {
          this.putConversation(conversation);
          // The server's row is a stream hop behind a push: what arrived meanwhile is counted here.
          const fetched = this.conversations.get(conversation.id)!;
          this.messagesOf(conversation.id)
            .filter((m) => !m.pending)
            .forEach((m) => this.moveLastMessage(fetched, m));
          this.loadPresence().catch(() => undefined);
          this.notify();
        })
        .catch(() => undefined);
    } else this.moveLastMessage(conversation, message);
    if (isNew && !mine) {
      const latest = this.acksAfterSync.get(message.conversation_id);
      if (this.syncing) {
        if (!latest || latest.seq < message.seq) this.acksAfterSync.set(message.conversation_id, message);
      } else this.connection.send({ action: "ack", conversation_id: message.conversation_id, message_id: message.id });
      this.clearTyping(message.conversation_id);
      if (!existing && !this.syncing) {
        this.announcement = `${message.sender_id}: ${previewOf(message)}`;
      }
      if (this.openId === message.conversation_id) this.markRead(message.conversation_id);
    }
  }

  private applyReceipt(conversationId: string, data: { user_id: string; status: MessageStatus; up_to_seq: number }): void {
    if (data.user_id !== this.me) {
      this.moveMarker(conversationId, data.status, data.up_to_seq);
      return;
    }
    if (data.status !== "read") return;
    const conversation = this.conversations.get(conversationId);
    this.myRead.set(conversationId, Math.max(this.myRead.get(conversationId) ?? 0, data.up_to_seq));
    if (conversation) conversation.unread_count = Math.max(0, (conversation.last_message?.seq ?? 0) - data.up_to_seq);
  }

  markRead(conversationId: string): void {
    if (document.visibilityState !== "visible") return;
    const conversation = this.conversations.get(conversationId);
    const last = conversation?.last_message;
    if (!conversation || !last || last.seq <= (this.myRead.get(conversationId) ?? 0)) return;
    if (this.connection.send({ action: "read", conversation_id: conversationId, message_id: last.id })) {
      this.myRead.set(conversationId, last.seq);
      conversation.unread_count = 0;
      this.notify();
    }
  }

  async open(conversationId: string | null): Promise<void> {
    this.openId = conversationId;
    this.notify();
    if (!conversationId) return;
    const thread = this.thread(conversationId);
    if (!thread.loaded) await this.loadOlder(conversationId);
    this.markRead(conversationId);
  }

  /** The next page of older history (the first page when nothing is loaded). */
  async loadOlder(conversationId: string): Promise<void> {
    const thread = this.thread(conversationId);
    if (thread.loading || (thread.loaded && !thread.nextCursor)) return;
    thread.loading = true;
    this.notify();
    try {
      const page = await this.api.history(conversationId, thread.loaded ? thread.nextCursor : null);
      for (const message of page.messages) {
        const existing = thread.messages.get(message.id);
        if (!existing) thread.messages.set(message.id, message);
        if (message.sender_id === this.me) this.moveMarker(conversationId, message.status, message.seq);
      }
      thread.nextCursor = page.next_cursor;
      thread.loaded = true;
    } catch (e) {
      this.fail(e);
    } finally {
      thread.loading = false;
      this.notify();
    }
  }

  async startConversation(userId: string): Promise<void> {
    const { conversation } = await this.api.startConversation(userId);
    if (!this.conversations.has(conversation.id)) this.putConversation(conversation);
    this.loadPresence().catch(() => undefined);
    await this.open(conversation.id);
  }

  // ------------------------------------------------------------------------------ sending: outbox

  send(conversationId: string, content: string, replyTo: ChatMessage | null, media?: { type: string; media_id: string }): void {
    const entry: OutboxEntry = {
      client_message_id: newClientMessageId(),
      conversation_id: conversationId,
      type: media?.type ?? "text",
      content,
      reply_to: replyTo?.id ?? null,
      media_id: media?.media_id ?? null,
      created_at: new Date().toISOString(),
      tried_at: 0,
    };
    this.outbox.add(entry);
    this.addPending(entry, replyTo);
    this.stopTyping(conversationId);
    this.flushOutbox(RESEND_AFTER_MS);
    this.notify();
  }

  private addPending(entry: OutboxEntry, replyTo: ChatMessage | null = null): void {
    this.thread(entry.conversation_id).messages.set("pending:" + entry.client_message_id, {
      id: "pending:" + entry.client_message_id,
      conversation_id: entry.conversation_id,
      seq: Number.MAX_SAFE_INTEGER,
      sender_id: this.me,
      client_message_id: entry.client_message_id,
      type: entry.type,
      content: entry.content,
      created_at: entry.created_at,
      status: "sent",
      reply_to: replyTo
        ? { id: replyTo.id, seq: replyTo.seq, sender_id: replyTo.sender_id, type: replyTo.type, preview: previewOf(replyTo), deleted: false }
        : null,
      reactions: [],
      deleted: false,
      starred: false,
      pending: true,
    });
  }

  /** Sends what the outbox holds, one message at a time per conversation (the next once the previous is
   * stored: a socket's frames are handled concurrently, so sending them all at once could store them out of
   * the order they were typed). An unanswered send goes again after `olderThanMs`, with the same client
   * message id: a send that did arrive is answered as a duplicate and stored once. */
  private flushOutbox(olderThanMs: number): void {
    if (this.syncing) return;
    const now = Date.now();
    const started = new Set<string>();
    for (const entry of this.outbox.entries) {
      if (started.has(entry.conversation_id)) continue;
      started.add(entry.conversation_id);
      if (entry.tried_at && now - entry.tried_at < olderThanMs) continue;
      const frame: Record<string, unknown> = {
        action: "sendMessage",
        conversation_id: entry.conversation_id,
        client_message_id: entry.client_message_id,
        type: entry.type,
        content: entry.content,
      };
      if (entry.reply_to) frame.reply_to = entry.reply_to;
      if (entry.media_id) frame.media_id = entry.media_id;
      if (!this.connection.send(frame)) return;
      this.outbox.tried(entry.client_message_id, now);
    }
  }

  discardFailed(message: ChatMessage): void {
    this.thread(message.conversation_id).messages.delete(message.id);
    this.notify();
  }

  // ------------------------------------------------------------------------------------ typing

  typed(conversationId: string): void {
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.typingSentAt = now;
      this.connection.send({ action: "typing", conversation_id: conversationId, state: "start" });
    }
    clearTimeout(this.typingStopTimer);
    this.typingStopTimer = window.setTimeout(() => this.stopTyping(conversationId), TYPING_SHOWN_MS);
  }

  stopTyping(conversationId: string): void {
    clearTimeout(this.typingStopTimer);
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    this.connection.send({ action: "typing", conversation_id: conversationId, state: "stop" });
  }

  private showTyping(conversationId: string, typing: boolean): void {
    this.clearTyping(conversationId);
    if (typing) {
      this.typing.set(
        conversationId,
        window.setTimeout(() => {
          this.typing.delete(conversationId);
          this.notify();
        }, TYPING_SHOWN_MS),
      );
    }
  }

  private clearTyping(conversationId: string): void {
    clearTimeout(this.typing.get(conversationId));
    this.typing.delete(conversationId);
  }

  // ------------------------------------------------------------------------- message actions

  private async change(action: () => Promise<{ message: Message } | unknown>): Promise<void> {
    try {
      const result = (await action()) as { message?: Message } | undefined;
      if (result?.message) this.receive(result.message, false);
    } catch (e) {
      this.fail(e);
    }
    this.notify();
  }

  react(message: ChatMessage, emoji: string | null): Promise<void> {
    return this.change(() => this.api.react(message.id, emoji));
  }

  // The server's `starred` (the caller's own) is the truth: the answer, and message_updated on every device.
  toggleStar(message: ChatMessage): Promise<void> {
    return this.change(() => this.api.star(message.id, !message.starred));
  }

  async remove(message: ChatMessage, forMe: boolean): Promise<void> {
    await this.change(() => this.api.deleteMessage(message.id, forMe));
    if (forMe) this.hidden.add(message.id);
    this.notify();
  }

  // ------------------------------------------------------------------------------------ media

  /** Uploads a file straight to storage with a grant, waits until Parley judged it, then sends it. */
  async sendMedia(conversationId: string, kind: "image" | "audio" | "file", file: Blob, fileName?: string): Promise<void> {
    const contentType = file.type || "application/octet-stream";
    const body: Record<string, unknown> = { content_type: contentType, size: file.size };
    if (kind === "image") body.quality = "standard";
    if (kind === "file") body.file_name = fileName ?? "file";
    this.uploading += 1;
    this.notify();
    try {
      const grant = await this.api.uploadGrant(kind, body);
      const ready = new Promise<void>((resolve, reject) => {
        this.uploads.set(grant.media.id, (ok, reason) => (ok ? resolve() : reject(new Error(`the ${kind} was refused: ${reason}`))));
      });
      const form = new FormData();
      Object.entries(grant.upload.fields).forEach(([name, value]) => form.append(name, value));
      form.append("file", file, fileName ?? "upload");
      let stored: Response | null = null;
      try {
        stored = await fetch(grant.upload.url, { method: "POST", body: form });
      } catch {
        // A storage endpoint without CORS for this origin still took the upload (a form POST needs no
        // preflight); only its answer is unreadable. Parley's verdict (media_ready/rejected) tells.
      }
      if (stored && !stored.ok) throw new Error(`the upload failed (${stored.status})`);
      await Promise.race([ready, new Promise((_, reject) => setTimeout(() => reject(new Error(`the ${kind} upload got no answer`)), 120_000))]);
      this.uploads.delete(grant.media.id);
      this.send(conversationId, "", null, { type: kind, media_id: grant.media.id });
    } catch (e) {
      this.fail(e instanceof Error ? e.message : e);
    } finally {
      this.uploading -= 1;
      this.notify();
    }
  }
}
