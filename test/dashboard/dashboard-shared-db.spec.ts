import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { assertBuilt, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { CHROMIUM, dashboardServer, describeBrowser, type DashboardServer } from './harness';

/**
 * The dashboard in headless Chromium while other processes (the CLI) change the same SQLite
 * database: what they delete leaves open lists and marks an open task page.
 */
describeBrowser('dashboard in headless Chromium, with other processes on its database', () => {
  const home = tempHome('oct-dash-browser-shared-');
  const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
  let browser: Browser;
  let srv: DashboardServer;
  const problems: string[] = [];

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(`${srv.base}/${path}`);
    await page.waitForSelector(`body[data-ready="${path || '#/'}"]`);
    await page.locator('#live.on').waitFor();
    return page;
  }

  const create = (name: string): string => {
    const r = cli(['create-task', name, '--json'], env);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout).id as string;
  };

  beforeAll(async () => {
    assertBuilt();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    srv = await dashboardServer({
      options: {
        home: home.dir,
        database: { driver: 'sqlite', path: join(home.dir, 'opencode.db') },
      },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    home.cleanup();
  });
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('removes a task deleted by the CLI from the open list, and says so on its open page', async () => {
    const doomed = create('deleted by the CLI');
    const kept = create('stays');
    const list = await open('');
    await list.locator(`#task-rows tr[data-id="${doomed}"]`).waitFor();
    await list.locator('#count', { hasText: '1–2 of 2 tasks' }).waitFor();
    const detail = await open(`#/task/${doomed}`);
    expect(await detail.locator('#act-delete').count()).toBe(1);

    const r = cli(['cleanup-task', doomed, '--force', '--yes'], env);
    expect(r.code).toBe(0);

    await list.locator(`#task-rows tr[data-id="${doomed}"]`).waitFor({ state: 'detached' });
    await list.locator('#count', { hasText: '1–1 of 1 task' }).waitFor();
    expect(await list.locator(`#task-rows tr[data-id="${kept}"]`).count()).toBe(1);
    const notice = detail.locator('#task-deleted');
    await notice.waitFor();
    expect(await notice.getAttribute('role')).toBe('alert');
    expect(await notice.textContent()).toContain('This task was deleted');
    expect(await detail.locator('#task-status').textContent()).toBe('deleted');
    // No actions are offered on a task that is gone.
    expect(await detail.locator('#act-delete, #act-checkpoint, #act-cancel').count()).toBe(0);
    expect(await detail.locator('#task-name').textContent()).toBe('deleted by the CLI');
    await list.close();
    await detail.close();
  });

  it('lists on the system view the reconciler actions another process took', async () => {
    const made = cli(['create-task', 'sandbox lost', '--image', 'busybox', '--json'], env);
    const id = JSON.parse(made.stdout).id as string;
    expect(cli(['reconcile'], env).code).toBe(0);
    const page = await open('#/system');
    await page.locator('#reconciler li', { hasText: id }).waitFor();
    expect(await page.locator('#reconciler li', { hasText: id }).textContent()).toContain(
      'failed-task',
    );
    await page.close();
  });
});
