/** `vouch logout`: forget the login kept for an instance (or every login with --all). */
import { vouchHome } from '../../instance/home.ts';
import { removeLogins } from '../../instance/logins.ts';
import { formatLogout } from '../format/identity.ts';
import { defineCommand } from '../run.ts';
import { instanceFor } from './login.ts';

export interface LogoutSummary {
  /** The instance logged out of, or `all`. */
  instance: string;
  removed: number;
}

async function logout(o: { instance?: string; all?: boolean; home?: string }): Promise<LogoutSummary> {
  const home = o.home ?? vouchHome();
  if (o.all) return { instance: 'all', removed: removeLogins(home) };
  const instance = await instanceFor(o);
  await instance.close();
  return { instance: instance.name, removed: removeLogins(home, instance.name) };
}

export default defineCommand({
  run: (_args: [], flags: { instance?: string; all?: boolean }) => logout(flags),
  human: formatLogout,
});
