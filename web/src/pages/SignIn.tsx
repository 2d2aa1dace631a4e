import { useState, type FormEvent } from "react";
import { api, data } from "../api";
import { FormProblem } from "../components/ui";
import { session, type Role } from "../session";

export function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const ended = session.endedBecause();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const answer = await data(api.v1.auth.login.$post({ json: { email: email.trim(), password } }));
      session.start({
        token: answer.token,
        expiresAt: answer.expiresAt,
        role: answer.role as Role,
        email: email.trim().toLowerCase(),
      });
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <span className="logo" aria-hidden="true" /> Fillgrid
        </h1>
        <p className="muted">Fill levels and replenishment orders for your fleet.</p>
        {ended && !problem ? (
          <div className="notice" role="alert">
            {ended}
          </div>
        ) : null}
        <label>
          Email
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            autoFocus
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <FormProblem error={problem} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          The API and its reference: <a href="/docs">/docs</a>
        </p>
      </form>
    </main>
  );
}
