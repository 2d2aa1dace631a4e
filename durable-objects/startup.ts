import { log } from "../platform/logging";

/**
 * An object's start-up work: `prepare` (schema, first reads; synchronous, as SQLite storage is) and
 * optionally `load` (what must be awaited). Both run inside `blockConcurrencyWhile`, so nothing
 * reaches the object half-started; a failure is caught there, so one bad start does not reset the
 * object, and rethrown outside it to the caller through `check()` (as partyserver's
 * `#ensureInitialized` does). Each later `check()` tries `prepare` again first, so an object
 * whose storage was repaired starts with the next request.
 */
export class Startup {
  #failure: unknown = undefined;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly objectName: string,
    private readonly prepare: () => void,
    private readonly load?: () => Promise<void>,
  ) {
    ctx
      .blockConcurrencyWhile(async () => {
        try {
          prepare();
          await load?.();
        } catch (error) {
          this.#failed(error);
        }
      })
      .catch((error: unknown) => this.#failed(error));
  }

  #failed(error: unknown): void {
    this.#failure = error ?? new Error(`${this.objectName} failed to start`);
    log("error", "object start-up failed", { object: this.objectName, id: this.ctx.id.name, error: String(error) });
  }

  /** Throws what start-up threw, unless starting again now succeeds. */
  check(): void {
    if (this.#failure === undefined) return;
    try {
      this.prepare();
    } catch (error) {
      this.#failure = error;
      throw error;
    }
    this.#failure = undefined;
    if (this.load) {
      this.ctx
        .blockConcurrencyWhile(async () => this.load!().catch((error: unknown) => this.#failed(error)))
        .catch((error: unknown) => this.#failed(error));
    }
  }
}

/** The name an object was reached by (`getByName`), which every object of this system has. */
export function objectName(ctx: DurableObjectState, kind: string): string {
  const name = ctx.id.name;
  if (name === undefined) throw new Error(`${kind} must be reached by name (getByName)`);
  return name;
}
