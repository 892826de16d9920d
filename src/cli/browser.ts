/**
 * Opening the sign-in page. `BROWSER` (the convention xdg-open and Python's webbrowser follow) names the command when
 * set; otherwise the `open` package starts the desktop's browser, but only where one can show: a graphical session on
 * Linux and BSDs, any macOS or Windows session that is not over SSH. Elsewhere the URL is only printed.
 */
import { spawn } from 'node:child_process';

export function browserAvailable(env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (env.BROWSER) return true;
  const remote = Boolean(env.SSH_CONNECTION || env.SSH_TTY);
  if (platform === 'darwin' || platform === 'win32') return !remote;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

export async function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!browserAvailable(env)) return false;
  try {
    if (env.BROWSER) {
      const [command] = env.BROWSER.split(':');
      const child = spawn(command!, [url], { stdio: 'ignore', detached: true, shell: false });
      child.on('error', () => {});
      child.unref();
      return true;
    }
    const { default: open } = await import('open');
    const child = await open(url, { wait: false });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
