/**
 * Dispatch of the package scripts: build | start | test | bench | image | lab.
 */
import { buildCommand } from './build';
import { startCommand } from './start';
import { testCommand } from './test';
import { benchCommand } from './bench';
import { imageCommand } from './image/image';
import { labCommand } from './lab/lab';

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  build: () => buildCommand(),
  start: () => startCommand(),
  test: (args) => testCommand(args),
  bench: (args) => benchCommand(args),
  image: (args) => imageCommand(args),
  lab: (args) => labCommand(args),
};

const [name = 'build', ...args] = process.argv.slice(2);
const cmd = COMMANDS[name];
if (!cmd) {
  process.stderr.write(`usage: node build/run.mjs <${Object.keys(COMMANDS).join('|')}>\n`);
  process.exitCode = 2;
} else {
  cmd(args).catch((e: Error) => {
    process.stderr.write(`ramvm ${name}: ${e.message}\n`);
    process.exitCode = 1;
  });
}
