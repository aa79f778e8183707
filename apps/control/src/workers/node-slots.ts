// A per-node limit on pulls in flight, shared by every control process: a Redis sorted set per
// node whose members are sync job ids scored by when their claim expires, so a crashed
// dispatcher's claim lapses on its own.
import type { Redis } from 'ioredis';

const claimLifetimeMs = 10 * 60_000;

export class NodeSlots {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly perNode: number,
  ) {}

  private key(nodeId: string): string {
    return `${this.prefix}:node-pulls:${nodeId}`;
  }

  /** Claims a slot for a job on a node; false when the node is already at its limit. */
  async acquire(nodeId: string, jobId: string): Promise<boolean> {
    const key = this.key(nodeId);
    const now = Date.now();
    // Atomic: drop lapsed claims, count, claim if room (or renew our own claim).
    const result = (await this.redis.eval(
      `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
       if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
         redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) return 1 end
       if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
       redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
       redis.call('PEXPIRE', KEYS[1], ARGV[5])
       return 1`,
      1,
      key,
      String(now),
      String(now + claimLifetimeMs),
      jobId,
      String(this.perNode),
      String(claimLifetimeMs),
    )) as number;
    return result === 1;
  }

  async release(nodeId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.key(nodeId), jobId);
  }
}
