import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ReconcilerService } from '../../src/modules/docker/reconciler.service';
import { SANDBOX_EVENTS } from '../../src/modules/docker/sandbox.events';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { CheckpointsService } from '../../src/modules/history/checkpoints.service';
import { TaskLogService } from '../../src/modules/history/task-log.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import {
  CHROMIUM,
  dashboardServer,
  describeBrowser,
  mcpClient,
  type DashboardServer,
} from './harness';

const TOKEN = 'browser-token-0123456789abcdef';
/** Screenshots kept as test artifacts (gitignored). */
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts', 'dashboard');
const XSS_NAME = '<img src=x onerror=alert(1)>';

describeBrowser('dashboard in headless Chromium', () => {
  let browser: Browser;
  let srv: DashboardServer;
  let mcp: Client;
  let tasks: TasksService;
  /** Page scripts' errors and dialogs: any of them fails the test that caused it. */
  const problems: string[] = [];

  async function open(path: string, width = 1280): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(`${srv.base}/${path}`);
    await page.waitForSelector(`body[data-ready="${path || '#/'}"]`);
    return page;
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Running as root in CI: Chromium's own sandbox needs user namespaces we may not have.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    srv = await dashboardServer();
    tasks = srv.app.get(TasksService);
    mcp = await mcpClient(srv.http.url);
  });
  afterAll(async () => {
    await mcp?.close();
    await browser?.close();
    await srv?.close();
  });
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('shows a task created over MCP in the open list without a reload', async () => {
    await tasks.create({ name: 'already there' });
    const page = await open('');
    await page.locator('#live.on').waitFor();
    await page.evaluate(() => ((globalThis as Record<string, unknown>).__sameDocument = true));
    const r = (await mcp.callTool({
      name: 'create_task_sandbox',
      arguments: { name: 'made over MCP' },
    })) as unknown as { structuredContent: { taskId: string } };
    const row = page.locator(`#task-rows tr[data-id="${r.structuredContent.taskId}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.locator('td').first().textContent()).toBe('made over MCP');
    expect(await page.locator('#count').textContent()).toBe('1–2 of 2 tasks');
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__sameDocument)).toBe(
      true,
    );
    // ... and its status moves live too.
    await mcp.callTool({ name: 'resume_task', arguments: { taskId: r.structuredContent.taskId } });
    await row.locator('.badge.s-running').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'list-1280.png') });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, 'list-390.png') });
    expect(await page.locator('th.col-owner').isVisible()).toBe(false);
    await page.close();
  });

  it('filters by status and owner and searches within them, on the server, by keyboard', async () => {
    for (const [name, owner, run] of [
      ['alpha one', 'filt-a', false],
      ['alpha two', 'filt-b', true],
      ['beta three', 'filt-a', true],
    ] as const) {
      const t = await tasks.create({ name, owner });
      if (run) await tasks.start(t.id);
    }
    const page = await open('');
    const names = async () =>
      (await page.locator('#task-rows td.col-name').allTextContents()).sort();
    await page.fill('#owner-filter', 'filt-a');
    await page.locator('#count', { hasText: '1–2 of 2 tasks' }).waitFor();
    expect(await page.locator('#task-rows td.col-name').allTextContents()).toEqual([
      'beta three',
      'alpha one',
    ]);
    await page.selectOption('#status-filter', 'running');
    await page.locator('#count', { hasText: '1–1 of 1 task' }).waitFor();
    expect(await names()).toEqual(['beta three']);
    // "/" jumps to the search, which looks within the filters: none of filt-a's running is alpha.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    await page.keyboard.type('alpha');
    await page.locator('#task-rows td', { hasText: 'No tasks match.' }).waitFor();
    expect(await page.inputValue('#owner-filter')).toBe('filt-a');
    expect(await page.inputValue('#status-filter')).toBe('running');
    // Search + status alone: the running alpha only.
    await page.fill('#owner-filter', '');
    await page.locator('#count', { hasText: '1–1 of 1 task' }).waitFor();
    expect(await names()).toEqual(['alpha two']);
    expect(await page.inputValue('#search')).toBe('alpha');
    // The search alone: both alphas.
    await page.selectOption('#status-filter', '');
    await page.locator('#count', { hasText: '1–2 of 2 tasks' }).waitFor();
    expect(await names()).toEqual(['alpha one', 'alpha two']);
    await page.close();
  });

  it('follows the log of a task: a line written after the page opened appears', async () => {
    const t = await tasks.create({ name: 'log follower' });
    await tasks.start(t.id);
    const page = await open(`#/task/${t.id}`);
    await page.locator('#live.on').waitFor();
    await page.locator('#log li', { hasText: 'task started' }).waitFor();
    await srv.app
      .get(TaskLogService)
      .write(t.id, 'warn', 'written after the page opened', { n: 1 });
    await page
      .locator('#log li', { hasText: 'written after the page opened' })
      .waitFor({ timeout: 15_000 });
    // The level filter hides lines below it.
    await page.selectOption('#log-level', 'warn');
    await page.locator('#log li', { hasText: 'task started' }).waitFor({ state: 'detached' });
    expect(await page.locator('#log li').count()).toBe(1);
    await page.close();
  });

  it('shows a sandboxed task: facts, live resources, executions, decisions, lock holders', async () => {
    const call = (name: string, args: Record<string, unknown>) =>
      mcp.callTool({ name, arguments: args }) as Promise<{
        structuredContent: Record<string, unknown>;
      }>;
    const created = await call('create_task_sandbox', {
      name: 'sandboxed',
      image: 'busybox',
      limits: { memoryMb: 256, pids: 64 },
    });
    const taskId = created.structuredContent.taskId as string;
    await call('resume_task', { taskId });
    await call('attach_agent_to_task', { taskId, agentId: 'claude-1', ttlMs: 600_000 });
    await call('record_decision', {
      taskId,
      agentId: 'claude-1',
      decision: 'use busybox',
      reasoning: 'small',
    });
    const page = await open(`#/task/${taskId}`);
    await page.locator('#live.on').waitFor();
    await page.locator('#lock-rows td', { hasText: 'claude-1' }).waitFor();
    expect(await page.locator('#lock-rows time').textContent()).toMatch(/^in \d+m$/);
    await page.locator('#decisions li', { hasText: 'use busybox' }).waitFor();
    expect(await page.locator('#h-sandbox ~ dl').textContent()).toContain('256 MiB, 64 pids');
    await call('execute_in_task', { taskId, agentId: 'claude-1', command: ['echo', 'hi'] });
    await page.locator('#exec-rows td', { hasText: 'echo hi' }).waitFor({ timeout: 15_000 });
    await page.locator('#stats-text', { hasText: 'of 256.0 MiB' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'detail-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, 'detail-390.png'), fullPage: true });
    await page.close();
  });

  it('asks before a restore, then rewinds the task', async () => {
    const t = await tasks.create({ name: 'to rewind' });
    await tasks.start(t.id);
    const cp = await srv.app
      .get(CheckpointsService)
      .create({ taskId: t.id, description: 'known good' });
    await srv.app.get(TaskLogService).write(t.id, 'info', 'after the checkpoint');
    await tasks.complete(t.id, { message: 'done' });
    const page = await open(`#/task/${t.id}`);
    const restore = page.locator(`tr[data-checkpoint="${cp.id}"] button.restore`);

    // Declining changes nothing.
    await restore.click();
    const dialog = page.locator('#confirm');
    await dialog.waitFor();
    expect(await page.locator('#confirm-text').textContent()).toContain('known good');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await tasks.get(t.id)).status).toBe('completed');

    // Confirming rewinds: back to pending, later lines marked rewound.
    await restore.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.click('#confirm-yes');
    await page.locator('#task-status .badge.s-pending').waitFor({ timeout: 15_000 });
    expect((await tasks.get(t.id)).status).toBe('pending');
    await page.locator('#log li.rewound', { hasText: 'after the checkpoint' }).waitFor();
    await page.locator('#log li', { hasText: `restored to checkpoint ${cp.id}` }).waitFor();
    await page.close();
  });

  it('shows the domain error of a refused action', async () => {
    const t = await tasks.create({ name: 'not deletable yet' });
    const page = await open(`#/task/${t.id}`);
    await page.click('#act-delete');
    await page.click('#confirm-yes');
    const toast = page.locator('#toast.error');
    await toast.waitFor();
    expect(await toast.textContent()).toMatch(
      /^ILLEGAL_TRANSITION: task .* is pending; only completed/,
    );
    expect((await tasks.get(t.id)).status).toBe('pending');
    await page.close();
  });

  it('keeps text readable: WCAG AA contrast (4.5:1) for badges, links, buttons, muted text, log', async () => {
    const t = await tasks.create({ name: 'contrast' });
    for (const s of ['running', 'completed', 'failed', 'cancelled']) {
      await tasks.create({ name: `c-${s}` }).then(async (x) => {
        if (s !== 'cancelled') await tasks.start(x.id);
        if (s === 'completed') await tasks.complete(x.id);
        if (s === 'failed') await tasks.fail(x.id, { error: 'no' });
        if (s === 'cancelled') await tasks.cancel(x.id);
      });
    }
    const check = async (page: Page, selectors: string[]) =>
      page.evaluate((sels) => {
        const g = globalThis as any;
        const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
        const lum = ([r, gr, b]: number[]) => {
          const f = (v: number) => {
            const x = v / 255;
            return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
          };
          return 0.2126 * f(r) + 0.7152 * f(gr) + 0.0722 * f(b);
        };
        const background = (el: any): number[] => {
          for (let e = el; e; e = e.parentElement) {
            const c = rgb(g.getComputedStyle(e).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
          }
          return [255, 255, 255];
        };
        return sels.map((sel: string) => {
          const el = g.document.querySelector(sel);
          if (!el) return { sel, ratio: 0 };
          const a = lum(rgb(g.getComputedStyle(el).color));
          const b = lum(background(el));
          const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
          return { sel, ratio: Math.round(ratio * 10) / 10 };
        });
      }, selectors);
    const list = await open('');
    const listResults = await check(list, [
      '.badge.s-pending',
      '.badge.s-running',
      '.badge.s-completed',
      '.badge.s-failed',
      '.badge.s-cancelled',
      '#task-rows a',
      '#count',
      'thead th',
      '#prev',
    ]);
    await list.close();
    const detail = await open(`#/task/${t.id}`);
    await detail.locator('#log li').first().waitFor();
    const detailResults = await check(detail, [
      '#act-delete',
      '#act-checkpoint',
      '.facts dt',
      '#log li .msg',
      '#log li time',
      '#log li .data',
    ]);
    await detail.close();
    for (const r of [...listResults, ...detailResults]) {
      expect({ sel: r.sel, ok: r.ratio >= 4.5, ratio: r.ratio }).toEqual({
        sel: r.sel,
        ok: true,
        ratio: r.ratio,
      });
    }
  });

  it('renders a task named like markup as text, in the list and the detail', async () => {
    const t = await tasks.create({ name: XSS_NAME, description: '<script>alert(2)</script>' });
    await srv.app.get(TaskLogService).write(t.id, 'info', '<b onmouseover=alert(3)>log</b>');
    const page = await open('');
    const cell = page.locator(`#task-rows tr[data-id="${t.id}"] td`).first();
    expect(await cell.textContent()).toBe(XSS_NAME);
    expect(await page.locator('#main img').count()).toBe(0);
    await cell.locator('a').click();
    await page.waitForSelector(`body[data-ready="#/task/${t.id}"]`);
    expect(await page.locator('#task-name').textContent()).toBe(XSS_NAME);
    await page.locator('#log li', { hasText: '<b onmouseover=alert(3)>log</b>' }).waitFor();
    expect(await page.locator('#main img, #main script, #main b').count()).toBe(0);
    await page.close();
    // afterEach fails the test if any alert() ran.
  });

  it('shows health, alerts and reconciler actions on the system view as they happen', async () => {
    const page = await open('#/system');
    await page.locator('#live.on').waitFor();
    expect(await page.locator('#health-rows th').allTextContents()).toEqual([
      'engine',
      'database',
      'disk',
    ]);
    // What the sandbox monitor publishes when a container is OOM-killed.
    srv.app.get(EventEmitter2).emit(SANDBOX_EVENTS.alert, {
      kind: 'oomKilled',
      taskId: 'tsk_oom',
      message: 'sandbox of task tsk_oom: the container was OOM-killed',
      at: new Date().toISOString(),
    });
    await page.locator('#alerts li', { hasText: 'the container was OOM-killed' }).waitFor();
    // A real reconciler pass: a live task whose container vanished is cancelled.
    const t = await tasks.create({ name: 'vanishes', sandbox: { image: 'busybox' } });
    await srv.app.get<SandboxRuntime>(SANDBOX_RUNTIME).remove(t.id);
    await srv.app.get(ReconcilerService).reconcile();
    await page.locator('#reconciler li', { hasText: t.id }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'system-1280.png') });
    await page.close();
  });
});

describeBrowser('dashboard in headless Chromium, with a token', () => {
  let browser: Browser;
  let srv: DashboardServer;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    srv = await dashboardServer({ token: TOKEN });
    await srv.app.get(TasksService).create({ name: 'secret task' });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('refuses the page and its data without the token, and opens with it', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${srv.base}/`);
    expect(res!.status()).toBe(401);
    expect(await page.content()).not.toContain('secret task');
    for (const path of ['/api/tasks', '/api/events', '/app.js']) {
      expect((await page.request.get(`${srv.base}${path}`)).status()).toBe(401);
    }
    await page.goto(`${srv.base}/?token=${TOKEN}`);
    expect(page.url()).toBe(`${srv.base}/`);
    await page.waitForSelector('body[data-ready="#/"]');
    await page.locator('#task-rows td', { hasText: 'secret task' }).waitFor();
    await page.locator('#live.on').waitFor();
    await page.close();
  });
});
