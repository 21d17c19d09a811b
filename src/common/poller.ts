/**
 * Runs an async task every `intervalMs` after the previous run settled (never two at once), until
 * stopped. Errors go to `onError` and do not stop the polling. The timer does not keep the process alive.
 */
export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly onError: (error: Error) => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.running = true;
    const schedule = () => {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.task()
          .catch(this.onError)
          .finally(() => {
            if (this.running && this.timer === null) schedule();
          });
      }, intervalMs);
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
