// Commands for agents travel over Redis pub/sub, so whichever control process holds a node's
// socket delivers them: dispatchers and sockets need not live in the same process. Node notices
// (close this node's socket: revoked, replaced) travel on a channel of their own that only
// gateways read.
import { agentCommandsChannel, nodeNotice, nodeNoticesChannel, type NodeNotice } from '@cider/api/services';
import { controlMessage, type ControlMessage } from '@cider/protocol';
import type { Redis } from 'ioredis';
import { z } from 'zod';

export { agentCommandsChannel as commandsChannel };

const command = z.object({ nodeId: z.string().max(64), message: controlMessage });

export class CommandBus {
  private handler: ((nodeId: string, message: ControlMessage) => void) | undefined;
  private noticeHandler: ((notice: NodeNotice) => void) | undefined;
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {}

  async send(nodeId: string, message: ControlMessage): Promise<void> {
    await this.publisher.publish(agentCommandsChannel(this.prefix), JSON.stringify({ nodeId, message }));
  }

  /** Many commands in one round trip (a reconcile tells every node what is pinned). */
  async sendMany(commands: { nodeId: string; message: ControlMessage }[]): Promise<void> {
    if (commands.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const entry of commands) pipeline.publish(agentCommandsChannel(this.prefix), JSON.stringify(entry));
    await pipeline.exec();
  }

  /** Receives every command and notice; the gateway acts on those for nodes connected to it. */
  async listen(handlers: { onCommand(nodeId: string, message: ControlMessage): void; onNotice(notice: NodeNotice): void }): Promise<void> {
    this.handler = handlers.onCommand;
    this.noticeHandler = handlers.onNotice;
    const commands = agentCommandsChannel(this.prefix);
    const notices = nodeNoticesChannel(this.prefix);
    this.subscribed ??= (async () => {
      this.subscriber.on('message', (channel: string, raw: string) => {
        try {
          if (channel === commands) {
            const parsed = command.safeParse(JSON.parse(raw));
            if (parsed.success) this.handler?.(parsed.data.nodeId, parsed.data.message);
          } else if (channel === notices) {
            const parsed = nodeNotice.safeParse(JSON.parse(raw));
            if (parsed.success) this.noticeHandler?.(parsed.data);
          }
        } catch {
          // A malformed frame on our own channel: nothing to deliver.
        }
      });
      await this.subscriber.subscribe(commands, notices);
    })();
    await this.subscribed;
  }
}
