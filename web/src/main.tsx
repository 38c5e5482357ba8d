// Entry point: reads config.json (where Parley's APIs are), then shows the sign-in or the chat.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Chat } from "./store";
import type { ClientConfig } from "./types";
import { App } from "./ui/App";
import { SignIn, type Session } from "./ui/SignIn";

const SESSION_KEY = "parley.session"; // per tab (sessionStorage): two tabs can be two people

function Root({ config }: { config: ClientConfig }) {
  const [session, setSession] = useState<Session | null>(() => {
    const saved = sessionStorage.getItem(SESSION_KEY);
    return saved ? JSON.parse(saved) : null;
  });
  const [chat, setChat] = useState<Chat | null>(null);

  useEffect(() => {
    if (!session) return;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    const created = new Chat(session.user_id, session.token, config);
    setChat(created);
    created.start();
    return () => created.stop();
  }, [session]);

  if (!session) return <SignIn config={config} onSignedIn={setSession} />;
  if (!chat) return null;
  return (
    <App
      chat={chat}
      onSignOut={() => {
        sessionStorage.removeItem(SESSION_KEY);
        setChat(null);
        setSession(null);
      }}
    />
  );
}

async function main(): Promise<void> {
  const root = document.getElementById("root")!;
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    const config: ClientConfig = await response.json();
    render(<Root config={config} />, root);
  } catch {
    root.textContent = "Parley's configuration (config.json) could not be read.";
  }
}

main();
