/**
 * A hashing worker of src/artifact/dir/pool.ts: runs the per-file loop on the job it is given (as workerData, or,
 * started ahead of time, as its first message), then says so. It loads only node:fs, node:crypto and the loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashLoop } from './hash-loop.ts';
import type { HashJob } from './status.ts';

async function run(job: HashJob): Promise<void> {
  await hashLoop(job);
  parentPort!.postMessage('done');
}

if (workerData) run(workerData as HashJob);
else parentPort!.once('message', run);
