// Sign-in: `parley local` mints a token for a typed name (its config has a sign_in_url); a deployed
// stack has no such route, so there the user pastes a JWT from their identity provider.
import { useState } from "preact/hooks";
import type { ClientConfig } from "../types";

export interface Session {
  user_id: string;
  token: string;
}

function subjectOf(token: string): string | null {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(decodeURIComponent(escape(atob(payload))));
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}

export function SignIn({ config, onSignedIn }: { config: ClientConfig; onSignedIn: (session: Session) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const local = Boolean(config.sign_in_url);

  async function submit(event: Event) {
    event.preventDefault();
    setError("");
    const typed = value.trim();
    if (!typed) return;
    if (!local) {
      const sub = subjectOf(typed);
      if (sub) onSignedIn({ user_id: sub, token: typed });
      else setError("That is not a token with a user id (sub).");
      return;
    }
    try {
      const response = await fetch(config.sign_in_url!, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user_id: typed }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
      onSignedIn({ user_id: body.user_id, token: body.token });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <main class="sign-in">
      <h1>Parley</h1>
      <form onSubmit={submit}>
        <label for="sign-in-value">{local ? "Your user name" : "Your access token (JWT)"}</label>
        <input
          id="sign-in-value"
          name="user"
          autoFocus
          autoComplete={local ? "username" : "off"}
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Sign in</button>
        {local && <p class="hint">Local runtime: any name signs in. Open a second window as someone else to chat.</p>}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
