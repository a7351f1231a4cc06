import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { HookVetoError } from '../../domain/errors';
import { commandHookRegistration, loadCommandHooks } from './command-hook';
import {
  DEFAULT_HOOK_PRIORITY,
  HOOK_EVENT_PREFIX,
  type AfterHookEvent,
  type BeforeHookEvent,
  type HookContext,
  type HookHandler,
  type HookRegistration,
  type TaskHookEvent,
} from './hook.types';
import { TASK_HOOK_METADATA, type TaskHookMetadata } from './task-hook.decorator';

/**
 * Runs lifecycle hooks in priority order. Handlers come from three places: `@TaskHook` methods on
 * any provider (discovered at start-up), `register()` calls, and command hooks in the hook file.
 * We keep our own ordered lists rather than relying on EventEmitter2.emitAsync, which runs listeners
 * concurrently and swallows errors by default; after a change commits, the event is also published
 * on EventEmitter2 as `opencode.<event>` for plain `@OnEvent` listeners.
 */
@Injectable()
export class HooksService implements OnModuleInit {
  private readonly logger = new Logger('Hooks');
  private readonly byEvent = new Map<TaskHookEvent, HookRegistration[]>();
  private seq = 0;
  private readonly order = new WeakMap<HookRegistration, number>();

  constructor(
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly emitter: EventEmitter2,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const fn = instance[method] as HookHandler;
        const meta = this.reflector.get<TaskHookMetadata | undefined>(TASK_HOOK_METADATA, fn);
        if (!meta) continue;
        this.register(meta.event, fn.bind(instance), {
          name: meta.name ?? `${instance.constructor.name}.${method}`,
          priority: meta.priority,
        });
      }
    }
    for (const spec of loadCommandHooks(this.options.hooksFile)) {
      this.add(commandHookRegistration(spec, this.options.hookTimeoutMs));
    }
  }

  /**
   * Registers a hook programmatically; returns a function that removes it.
   * @example hooks.register('beforeTaskStart', (ctx) => audit(ctx.task), { name: 'audit', priority: 5 })
   */
  register(
    event: TaskHookEvent,
    handler: HookHandler,
    opts: { name?: string; priority?: number } = {},
  ): () => void {
    const reg: HookRegistration = {
      event,
      handler,
      name: opts.name ?? (handler.name || 'anonymous'),
      priority: opts.priority ?? DEFAULT_HOOK_PRIORITY,
    };
    this.add(reg);
    return () => {
      const list = this.byEvent.get(event) ?? [];
      this.byEvent.set(
        event,
        list.filter((r) => r !== reg),
      );
    };
  }

  private add(reg: HookRegistration): void {
    this.order.set(reg, this.seq++);
    const list = [...(this.byEvent.get(reg.event) ?? []), reg];
    // Sorted at registration so a run never sorts; equal priorities keep registration order.
    list.sort((a, b) => a.priority - b.priority || this.order.get(a)! - this.order.get(b)!);
    this.byEvent.set(reg.event, list);
  }

  list(event?: TaskHookEvent): { name: string; event: TaskHookEvent; priority: number }[] {
    const events = event ? [event] : [...this.byEvent.keys()];
    return events.flatMap((e) =>
      (this.byEvent.get(e) ?? []).map(({ name, priority }) => ({ name, event: e, priority })),
    );
  }

  /** Awaits each before-hook in order; the first that throws vetoes with a `HookVetoError`. */
  async runBefore(event: BeforeHookEvent, ctx: Omit<HookContext, 'event'>): Promise<void> {
    const full: HookContext = { ...ctx, event };
    for (const reg of this.byEvent.get(event) ?? []) {
      try {
        await reg.handler(full);
      } catch (err) {
        throw new HookVetoError(reg.name, event, err instanceof Error ? err.message : String(err));
      }
    }
  }

  /** Runs after-hooks in order once the change is committed; failures are logged, never rethrown. */
  async runAfter(event: AfterHookEvent, ctx: Omit<HookContext, 'event'>): Promise<void> {
    const full: HookContext = { ...ctx, event };
    for (const reg of this.byEvent.get(event) ?? []) {
      try {
        await reg.handler(full);
      } catch (err) {
        this.logger.warn(
          `after-hook '${reg.name}' on ${event} for task ${ctx.task.id} failed (the change stands): ${
            err instanceof Error ? err.message : String(err)
          }`,
        );
      }
    }
    try {
      this.emitter.emit(HOOK_EVENT_PREFIX + event, full);
    } catch (err) {
      this.logger.warn(
        `listener of ${HOOK_EVENT_PREFIX + event} failed: ${(err as Error).message}`,
      );
    }
  }
}
