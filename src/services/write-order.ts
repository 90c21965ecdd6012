/**
 * Orders this process's optimistic writes per entity: a write waits until the earlier writes
 * of this process to any entity it touches have finished, then plans on the versions they
 * recorded (the latest-version hints) instead of appending on a state they are replacing,
 * which PostgreSQL would refuse and the write would do again from a fresh read. Writers of
 * other instances still meet that refusal. A write registers behind every entity at once,
 * synchronously, so the waits follow the order writes arrived in and never form a circle; it
 * holds nothing in the database while it waits.
 */
export class WriteOrder {
  private readonly tails = new Map<string, Promise<void>>()

  async run<T> (tenant: string, refs: readonly string[], work: () => Promise<T>): Promise<T> {
    let finish!: () => void
    const done = new Promise<void>((resolve) => { finish = resolve })
    const keys = refs.map((ref) => `${tenant}\u0000${ref}`)
    const earlier: Array<Promise<void>> = []
    for (const key of keys) {
      const tail = this.tails.get(key)
      if (tail !== undefined) earlier.push(tail)
      this.tails.set(key, done)
    }
    try {
      if (earlier.length > 0) await Promise.all(earlier)
      return await work()
    } finally {
      finish()
      for (const key of keys) if (this.tails.get(key) === done) this.tails.delete(key)
    }
  }

  /** Entities with a write of this process under way or waiting (for tests). */
  get size (): number {
    return this.tails.size
  }
}
