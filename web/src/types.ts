// The shapes of Parley's API (README "The API"), as far as the client reads them.

export type MessageStatus = "sent" | "delivered" | "read";

export interface QuotedMessage {
  id: string;
  seq: number;
  sender_id: string;
  type: string;
  preview: string;
  deleted: boolean;
}

export interface Reaction {
  user_id: string;
  emoji: string;
}

export interface Rendition {
  content_type: string;
  size: number;
  width?: number;
  height?: number;
}

export interface Attachment {
  media_id: string;
  kind: "image" | "audio" | "file";
  content_type: string;
  size: number;
  width?: number;
  height?: number;
  placeholder?: string;
  duration_ms?: number;
  file_name?: string;
  renditions?: Record<string, Rendition>;
}

export interface Message {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  client_message_id: string;
  type: string;
  content: string;
  created_at: string;
  status: MessageStatus;
  reply_to: QuotedMessage | null;
  reactions: Reaction[];
  deleted: boolean;
  starred: boolean; // whether you starred it (private to you)
  attachments?: Attachment[];
}

export interface LastMessage {
  id: string;
  seq: number;
  sender_id: string;
  type: string;
  preview: string;
  created_at: string;
  status: MessageStatus;
  deleted: boolean;
}

export interface Conversation {
  id: string;
  type: string;
  participant_ids: string[];
  peer_id: string;
  created_at: string;
  last_message: LastMessage | null;
  last_activity_at: string;
  unread_count: number;
}

export interface Presence {
  user_id: string;
  status: "online" | "offline";
  last_seen: string | null;
}

export interface Envelope {
  id: string;
  type: string;
  channel: string;
  conversation_id?: string;
  data: any;
  timestamp: number;
}

export interface ClientConfig {
  api_url: string; // ends in /api/v1
  ws_url: string;
  sign_in_url?: string; // only `parley local` has one
}
