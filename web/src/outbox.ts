// Messages typed but not yet stored by Parley, kept in localStorage so that neither going offline nor
// closing the tab loses them; and this tab's sync cursor (sessionStorage: each tab is a device).

export interface OutboxEntry {
  client_message_id: string;
  conversation_id: string;
  type: string;
  content: string;
  reply_to: string | null;
  media_id: string | null;
  created_at: string;
  tried_at: number; // epoch ms of the last send over the socket; 0: never
}

export class Outbox {
  private readonly outboxKey: string;
  private readonly cursorKey: string;

  constructor(userId: string) {
    this.outboxKey = `parley.outbox.${userId}`;
    this.cursorKey = `parley.sync.${userId}`;
  }

  /** Read afresh each time: another tab of the same user may have sent some. */
  get entries(): OutboxEntry[] {
    try {
      return JSON.parse(localStorage.getItem(this.outboxKey) ?? "[]");
    } catch {
      return [];
    }
  }

  private save(entries: OutboxEntry[]): void {
    localStorage.setItem(this.outboxKey, JSON.stringify(entries));
  }

  add(entry: OutboxEntry): void {
    this.save([...this.entries, entry]);
  }

  tried(clientMessageId: string, at: number): void {
    this.save(this.entries.map((e) => (e.client_message_id === clientMessageId ? { ...e, tried_at: at } : e)));
  }

  remove(clientMessageId: string): OutboxEntry | undefined {
    const entries = this.entries;
    const entry = entries.find((e) => e.client_message_id === clientMessageId);
    if (entry) this.save(entries.filter((e) => e !== entry));
    return entry;
  }

  get syncCursor(): string | null {
    return sessionStorage.getItem(this.cursorKey);
  }

  set syncCursor(cursor: string | null) {
    if (cursor) sessionStorage.setItem(this.cursorKey, cursor);
    else sessionStorage.removeItem(this.cursorKey);
  }
}
