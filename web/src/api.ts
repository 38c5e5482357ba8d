// The HTTP API (README "HTTP"): one method per route the client calls.
import type { Conversation, Message, Presence } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "Parley can't be reached");
    }
    if (response.status === 204) return undefined as T;
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = payload.error ?? { code: "http_" + response.status, message: payload.message ?? response.statusText };
      throw new ApiError(response.status, error.code, error.message);
    }
    return payload as T;
  }

  conversations(cursor?: string | null) {
    const query = "?limit=100" + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    return this.call<{ conversations: Conversation[]; next_cursor: string | null }>("GET", "/conversations" + query);
  }
  conversation(id: string) {
    return this.call<{ conversation: Conversation }>("GET", `/conversations/${encodeURIComponent(id)}`);
  }
  startConversation(userId: string) {
    return this.call<{ conversation: Conversation }>("POST", `/conversations/${encodeURIComponent(userId)}`);
  }
  history(conversationId: string, cursor?: string | null, limit = 30) {
    const query = `?limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    return this.call<{ messages: Message[]; next_cursor: string | null }>(
      "GET",
      `/conversations/${encodeURIComponent(conversationId)}/messages${query}`,
    );
  }
  send(conversationId: string, body: Record<string, unknown>) {
    return this.call<{ message: Message }>("POST", `/conversations/${encodeURIComponent(conversationId)}/messages`, body);
  }
  presence(ids: string[]) {
    return this.call<{ presence: Presence[] }>("GET", `/users/presence/bulk?ids=${ids.map(encodeURIComponent).join(",")}`);
  }
  react(messageId: string, emoji: string | null) {
    const path = `/messages/${encodeURIComponent(messageId)}/reactions`;
    return emoji
      ? this.call<{ message: Message }>("POST", path, { emoji })
      : this.call<{ message: Message }>("DELETE", path);
  }
  star(messageId: string, starred: boolean) {
    return this.call<unknown>(starred ? "POST" : "DELETE", `/messages/${encodeURIComponent(messageId)}/star`);
  }
  starred() {
    return this.call<{ starred: { message: Message; starred_at: string }[] }>("GET", "/messages/starred?limit=100");
  }
  deleteMessage(messageId: string, forMe: boolean) {
    return this.call<{ message: Message }>("DELETE", `/messages/${encodeURIComponent(messageId)}${forMe ? "?for=me" : ""}`);
  }
  search(q: string) {
    return this.call<{ results: { message: Message; conversation: Conversation }[] }>(
      "GET",
      `/messages/search?limit=50&q=${encodeURIComponent(q)}`,
    );
  }
  uploadGrant(kind: "image" | "audio" | "file", body: Record<string, unknown>) {
    return this.call<{ media: { id: string }; upload: { url: string; fields: Record<string, string> } }>(
      "POST",
      `/messages/upload-${kind}`,
      body,
    );
  }
  media(mediaId: string) {
    return this.call<any>("GET", `/media/${encodeURIComponent(mediaId)}`);
  }
}
