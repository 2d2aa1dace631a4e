/**
 * The first answer to each command that carries an idempotency key (a partner's `eventId`): a
 * repeat is answered the same, whatever changed since. An answer is kept in the command's own
 * transaction when the command changed anything, so the two stand or fall together.
 */
export class CommandStore<Answer> {
  constructor(
    private readonly sql: SqlStorage,
    /** Whether the object has tables yet; an object without them has remembered nothing. */
    private readonly hasTables: () => boolean,
    /** Make the tables, before the first answer is kept. */
    private readonly ensureTables: () => void,
  ) {}

  /** The answer kept for `key`, if any. */
  recalled(key: string | null): Answer | undefined {
    if (key === null || !this.hasTables()) return undefined;
    const row = this.sql.exec<{ answer: string }>("SELECT answer FROM commands WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.answer) as Answer) : undefined;
  }

  /** Keep the first answer to `key` (a later one under the same key is not kept). */
  remember(key: string | null, answer: Answer): void {
    if (key === null) return;
    this.ensureTables();
    this.sql.exec(
      "INSERT INTO commands (key, answer, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
      key,
      JSON.stringify(answer),
      new Date().toISOString(),
    );
  }

  /** `remember`, then the answer. */
  remembered(key: string | null, answer: Answer): Answer {
    this.remember(key, answer);
    return answer;
  }
}
