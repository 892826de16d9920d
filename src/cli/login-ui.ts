/**
 * How a sign-in talks to the person at the terminal (vouch login, and vouch sign when it needs a login): the URL or
 * code on stderr, through the terminal sanitiser (an issuer's answer is not trusted text), and a browser where one
 * can show.
 */
import type { LoginUi } from '../identity/login.ts';
import type { CommandContext } from './run.ts';

export function loginUi(ctx: CommandContext): LoginUi {
  return {
    showUrl: (url) => {
      ctx.note('To sign in, open this URL in a browser on this machine:');
      ctx.note(`  ${url}`);
    },
    openBrowser: async (url) => {
      const { openBrowser } = await import('./browser.ts');
      const opened = await openBrowser(url);
      if (!opened) ctx.note('(no browser here: open the URL above, or run again with --device)');
      return opened;
    },
    showDeviceCode: (p) =>
      ctx.note(
        `To sign in, open ${p.verificationUriComplete ?? p.verificationUri} and enter the code ${p.userCode} (valid ${Math.round(p.expiresInSeconds / 60)} min)`,
      ),
  };
}
