// Loaded with `node --import` before the CLI by vouchAsync (test/helpers/cli.ts): reports the process's peak RSS
// (kB) on file descriptor 3 when it exits, however it exits.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  try {
    writeSync(3, `${process.resourceUsage().maxRSS}\n`);
  } catch {
    // No fd 3: not run by vouchAsync.
  }
});
