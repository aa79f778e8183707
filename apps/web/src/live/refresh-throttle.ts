// When open pages refetch after fleet events. An isolated change shows within a moment; a storm of
// them (a rollout to a thousand nodes) costs at most one refetch per `minGapMs`, however many events
// arrive, because each refetch of a large view moves real bytes and CPU for every open tab.
export interface RefreshThrottleOptions {
  /** Wait this long after the first event: the events of one change arrive together. */
  delayMs: number;
  /** Never refetch sooner than this after the previous refetch. */
  minGapMs: number;
}

export const liveRefresh: RefreshThrottleOptions = { delayMs: 150, minGapMs: 3_000 };

export class RefreshThrottle {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRun = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly run: () => void,
    private readonly options: RefreshThrottleOptions = liveRefresh,
  ) {}

  /** Asks for a refetch; requests made while one is pending join it. */
  request(): void {
    if (this.timer) return;
    const wait = Math.max(this.options.delayMs, this.lastRun + this.options.minGapMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastRun = Date.now();
      this.run();
    }, wait);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
