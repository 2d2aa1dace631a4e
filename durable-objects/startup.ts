import { log } from "../platform/logging";

/**
 * An object's start-up work (schema, first reads), run inside `blockConcurrencyWhile` so nothing
 * reaches the object half-started. A failure is caught there, so one bad start does not reset the
 * object, and rethrown to the next caller through `check()`, which also starts again for the one
 * after (the way partyserver's `#ensureInitialized` does).
 */
export class Startup {
  #failure: unknown = undefined;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly objectName: string,
    private readonly work: () => void | Promise<void>,
  ) {
    this.#run();
  }

  #run(): void {
    this.#failure = undefined;
    this.ctx
      .blockConcurrencyWhile(async () => {
        try {
          await this.work();
        } catch (error) {
          this.#failure = error ?? new Error(`${this.objectName} failed to start`);
          log("error", "object start-up failed", { object: this.objectName, id: this.ctx.id.name, error: String(error) });
        }
      })
      .catch((error: unknown) => {
        this.#failure = error;
        log("error", "object start-up could not run", { object: this.objectName, id: this.ctx.id.name, error: String(error) });
      });
  }

  /** Throws what the last start-up threw, after setting a fresh start going for the next caller. */
  check(): void {
    if (this.#failure === undefined) return;
    const failure = this.#failure;
    this.#run();
    throw failure;
  }
}

/** The name an object was reached by (`getByName`), which every object of this system has. */
export function objectName(ctx: DurableObjectState, kind: string): string {
  const name = ctx.id.name;
  if (name === undefined) throw new Error(`${kind} must be reached by name (getByName)`);
  return name;
}
