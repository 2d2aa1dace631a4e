/**
 * A command's idempotency key (a partner's `eventId`, scoped to the partner) and a fingerprint of
 * what it asked: the same key with another fingerprint is a key reused for a different command.
 */
export interface CommandKey {
  id: string;
  fingerprint: string;
}

/** What was answered first under a key, and whether the command asked the same as this one. */
export interface Recalled<Answer> {
  answer: Answer;
  sameCommand: boolean;
}

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

  /** The answer kept for `key`, if any, and whether it was given to the same command. */
  recalled(key: CommandKey | null): Recalled<Answer> | undefined {
    if (key === null || !this.hasTables()) return undefined;
    const row = this.sql
      .exec<{ answer: string; fingerprint: string | null }>(
        "SELECT answer, fingerprint FROM commands WHERE key = ?",
        key.id,
      )
      .toArray()[0];
    if (!row) return undefined;
    // An answer kept before fingerprints were: the command cannot be compared, so it counts as the same.
    return {
      answer: JSON.parse(row.answer) as Answer,
      sameCommand: row.fingerprint === null || row.fingerprint === key.fingerprint,
    };
  }

  /** Keep the first answer to `key` (a later one under the same key is not kept). */
  remember(key: CommandKey | null, answer: Answer): void {
    if (key === null) return;
    this.ensureTables();
    this.sql.exec(
      "INSERT INTO commands (key, answer, at, fingerprint) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
      key.id,
      JSON.stringify(answer),
      new Date().toISOString(),
      key.fingerprint,
    );
  }

  /** `remember`, then the answer. */
  remembered(key: CommandKey | null, answer: Answer): Answer {
    this.remember(key, answer);
    return answer;
  }
}
