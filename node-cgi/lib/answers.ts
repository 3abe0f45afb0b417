/**
 * The answers a connection reads, handed out one at a time to the one
 * caller waiting for the next (an SMTP relay's replies, a guest agent's
 * answers). A failure ends it for good: the waiting caller and every later
 * one get the first failure.
 *
 *   const answers = new AnswerQueue<Reply>();
 *   sock.on('data', (c) => answers.push(...parse(c)));
 *   sock.on('close', () => answers.fail(new Error('closed')));
 *   const r = await answers.next(5000, () => new Error('no answer within 5 s'));
 */
export class AnswerQueue<T> {
  private queue: T[] = [];
  private waiting: { resolve: (a: T) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  /** The failure that ended it; null while it lives. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Answers read, in order: the first to the caller waiting, if any. */
  push(...answers: T[]): void {
    this.queue.push(...answers);
    this.deliver();
  }

  /** End it with `e` (the first failure stays); the caller waiting gets it. Returns the failure that stays. */
  fail(e: Error): Error {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.failure);
    return this.failure;
  }

  /**
   * The next answer, or after `timeoutMs` the error `timedOut` gives (it may
   * end the whole queue with fail(); otherwise a later answer goes to the
   * next caller). Answers queued come first, then the failure.
   */
  next(timeoutMs: number, timedOut: () => Error): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(timedOut());
      }, timeoutMs);
      this.waiting = {
        resolve: (a) => (clearTimeout(timer), resolve(a)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  private deliver(): void {
    if (this.waiting && this.queue.length > 0) {
      const w = this.waiting;
      this.waiting = null;
      w.resolve(this.queue.shift()!);
    }
  }
}
