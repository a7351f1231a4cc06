import { cli, assertBuilt } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, SHELL_IMAGES } from './engine';

jest.setTimeout(120_000);

const DASH = SHELL_IMAGES.dash!;

describeDocker(
  'a task keeps its exports when OPENCODE_SANDBOX_SHELL changes (built binary, /bin/sh dash)',
  () => {
    const home = tempHome('oct-shell-switch-');
    const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: DASH };
    let taskId: string;
    /** One CLI process per command: each starts the task's session from the stored state. */
    const sh = (script: string, shell: 'sh' | 'auto') => {
      const r = cli(['exec', '--task', taskId, '--shell', script, '--json'], {
        ...env,
        OPENCODE_SANDBOX_SHELL: shell,
      });
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as { exitCode: number; stdout: string };
    };

    beforeAll(() => {
      assertBuilt();
      const r = cli(['create-task', 'shell-switch', '--image', DASH, '--json'], env);
      expect(r.stderr).toBe('');
      taskId = JSON.parse(r.stdout).id;
    });
    afterAll(() => {
      cli(['cleanup-task', taskId, '--force', '--yes'], env);
      home.cleanup();
    });

    it("values bash exported with control characters (its $'…' form) come back unchanged in dash, and back in bash", () => {
      // bash prints these values as $'…' in `export -p`; dash would read a literal $ and escapes.
      const set = sh(
        `cd /tmp && export TABS="$(printf 'a\\tb\\nc')" QUOTE="$(printf "it's\\033[0m")" PLAIN=p; echo "\${BASH_VERSION:+bash}"`,
        'auto',
      );
      expect(set).toMatchObject({ exitCode: 0, stdout: 'bash\n' });
      const show = [
        'if [ -n "${BASH_VERSION-}" ]; then echo bash; else echo dash; fi; pwd',
        `[ "$TABS" = "$(printf 'a\\tb\\nc')" ] && echo tabs-same`,
        `[ "$QUOTE" = "$(printf "it's\\033[0m")" ] && echo quote-same`,
        'echo "$PLAIN"',
      ].join('; ');
      const expected = (shell: string) => `${shell}\n/tmp\ntabs-same\nquote-same\np\n`;
      expect(sh(show, 'sh').stdout).toBe(expected('dash'));
      // dash's `export -p` of the same values, read by bash again.
      expect(sh('export PLAIN=q; export PLAIN=p', 'sh').exitCode).toBe(0);
      expect(sh(show, 'auto').stdout).toBe(expected('bash'));
    });
  },
  DASH,
);
