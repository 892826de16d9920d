// Rewrites docs/cli.md from the command definitions (src/cli/main.ts). Run after adding or changing a command or a
// flag: `node scripts/docs-cli.ts`. test/cli-reference.test.ts fails until the file is current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliSpec } from '../src/cli/main.ts';
import { cliReference } from '../src/cli/reference.ts';

writeFileSync(join(import.meta.dirname, '..', 'docs', 'cli.md'), cliReference(cliSpec()));
