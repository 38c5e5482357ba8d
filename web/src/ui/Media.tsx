// Attachments: an image shows its BlurHash placeholder at its final size until the rendition loads;
// voice notes play in an <audio>; files are links with their name and size. Links are short-lived, so
// they are fetched when shown (GET /media/{id}) and kept a few minutes.
import { useEffect, useRef, useState } from "preact/hooks";
import type { Chat, ChatMessage } from "../store";
import type { Attachment } from "../types";
import { formatSize } from "./format";

const LINKS_KEPT_MS = 4 * 60_000; // the links last 5 minutes
const links = new Map<string, { urls: Record<string, string>; at: number }>();

function useLinks(chat: Chat, mediaId: string): Record<string, string> | null {
  const cached = links.get(mediaId);
  const fresh = cached && Date.now() - cached.at < LINKS_KEPT_MS ? cached.urls : null;
  const [urls, setUrls] = useState(fresh);
  useEffect(() => {
    if (fresh) return;
    chat.api
      .media(mediaId)
      .then((answer) => {
        links.set(mediaId, { urls: answer.urls, at: Date.now() });
        setUrls(answer.urls);
      })
      .catch(() => undefined);
  }, [mediaId]);
  return urls;
}

export function Attachments({ chat, message }: { chat: Chat; message: ChatMessage }) {
  return (
    <>
      {message.attachments!.map((a) =>
        a.kind === "image" ? (
          <ImageAttachment key={a.media_id} chat={chat} attachment={a} />
        ) : a.kind === "audio" ? (
          <AudioAttachment key={a.media_id} chat={chat} attachment={a} />
        ) : (
          <FileAttachment key={a.media_id} chat={chat} attachment={a} />
        ),
      )}
    </>
  );
}

function ImageAttachment({ chat, attachment }: { chat: Chat; attachment: Attachment }) {
  const urls = useLinks(chat, attachment.media_id);
  const [loaded, setLoaded] = useState(false);
  const canvas = useRef<HTMLCanvasElement>(null);
  const shown = attachment.renditions?.standard ?? attachment.renditions?.thumbnail;
  const width = Math.min(shown?.width ?? attachment.width ?? 240, 280);
  const height = Math.round(width * ((shown?.height ?? attachment.height ?? 180) / (shown?.width ?? attachment.width ?? 240)));
  useEffect(() => {
    if (canvas.current && attachment.placeholder) paintBlurHash(canvas.current, attachment.placeholder);
  }, [attachment.placeholder]);
  const src = urls?.standard ?? urls?.thumbnail;
  return (
    <figure class="image" style={{ width: `${width}px`, height: `${height}px` }} data-testid="image" data-loaded={loaded ? "true" : "false"}>
      {!loaded && <canvas ref={canvas} width={32} height={32} class="placeholder" aria-hidden="true" />}
      {src && (
        <a href={urls?.hd ?? src} target="_blank" rel="noopener">
          <img src={src} alt="Photo" onLoad={() => setLoaded(true)} style={{ opacity: loaded ? 1 : 0 }} />
        </a>
      )}
    </figure>
  );
}

function AudioAttachment({ chat, attachment }: { chat: Chat; attachment: Attachment }) {
  const urls = useLinks(chat, attachment.media_id);
  const seconds = Math.round((attachment.duration_ms ?? 0) / 1000);
  return (
    <div class="audio">
      <audio controls preload="none" src={urls?.original ?? Object.values(urls ?? {})[0]} aria-label={`Voice message, ${seconds} seconds`} />
      <span class="hint">
        {Math.floor(seconds / 60)}:{String(seconds % 60).padStart(2, "0")}
      </span>
    </div>
  );
}

function FileAttachment({ chat, attachment }: { chat: Chat; attachment: Attachment }) {
  const urls = useLinks(chat, attachment.media_id);
  return (
    <a class="file" href={urls ? Object.values(urls)[0] : undefined} download={attachment.file_name} data-testid="file">
      <span aria-hidden="true">📄</span> <span class="file-name">{attachment.file_name ?? "file"}</span>{" "}
      <span class="hint">{formatSize(attachment.size)}</span>
    </a>
  );
}

// ----------------------------------------------------------------------------- BlurHash (blurha.sh)

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function decode83(text: string): number {
  let value = 0;
  for (const char of text) value = value * 83 + DIGITS.indexOf(char);
  return value;
}

const toLinear = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
const toSrgb = (v: number) => {
  const c = Math.max(0, Math.min(1, v));
  return Math.round(c <= 0.0031308 ? c * 12.92 * 255 : (1.055 * c ** (1 / 2.4) - 0.055) * 255);
};
const signPow = (v: number, e: number) => Math.sign(v) * Math.abs(v) ** e;

function paintBlurHash(canvas: HTMLCanvasElement, hash: string): void {
  if (hash.length < 6) return;
  const sizeFlag = decode83(hash[0]);
  const nx = (sizeFlag % 9) + 1;
  const ny = Math.floor(sizeFlag / 9) + 1;
  const maxValue = (decode83(hash[1]) + 1) / 166;
  const colors: number[][] = [];
  const dc = decode83(hash.slice(2, 6));
  colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
  for (let i = 1; i < nx * ny; i++) {
    const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
    colors.push([Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19].map((q) => signPow((q - 9) / 9, 2) * maxValue));
  }
  const { width, height } = canvas;
  const context = canvas.getContext("2d");
  if (!context) return;
  const image = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0; // prettier-ignore
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
          const c = colors[i + j * nx];
          r += c[0] * basis;
          g += c[1] * basis;
          b += c[2] * basis;
        }
      }
      const at = 4 * (x + y * width);
      image.data.set([toSrgb(r), toSrgb(g), toSrgb(b), 255], at);
    }
  }
  context.putImageData(image, 0, 0);
}
