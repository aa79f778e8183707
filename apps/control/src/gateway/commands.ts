// Commands for agents travel over Redis pub/sub, so whichever control process holds a node's
// socket delivers them: dispatchers and sockets need not live in the same process.
import { controlMessage, type ControlMessage } from '@cider/protocol';
import type { Redis } from 'ioredis';

export function commandsChannel(prefix: string): string {
  return `${prefix}:agent-commands`;
}

export class CommandBus {
  private handler: ((nodeId: string, message: ControlMessage) => void) | undefined;
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {}

  async send(nodeId: string, message: ControlMessage): Promise<void> {
    await this.publisher.publish(commandsChannel(this.prefix), JSON.stringify({ nodeId, message }));
  }

  /** Many commands in one round trip (a reconcile tells every node what is pinned). */
  async sendMany(commands: { nodeId: string; message: ControlMessage }[]): Promise<void> {
    if (commands.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const command of commands) pipeline.publish(commandsChannel(this.prefix), JSON.stringify(command));
    await pipeline.exec();
  }

  /** Receives every command; the gateway forwards those for nodes connected to it. */
  async onCommand(handler: (nodeId: string, message: ControlMessage) => void): Promise<void> {
    this.handler = handler;
    this.subscribed ??= (async () => {
      this.subscriber.on('message', (channel: string, raw: string) => {
        if (channel !== commandsChannel(this.prefix)) return;
        try {
          const { nodeId, message } = JSON.parse(raw) as { nodeId: string; message: unknown };
          const parsed = controlMessage.safeParse(message);
          if (parsed.success) this.handler?.(nodeId, parsed.data);
        } catch {
          // ignore malformed frames
        }
      });
      await this.subscriber.subscribe(commandsChannel(this.prefix));
    })();
    await this.subscribed;
  }
}
