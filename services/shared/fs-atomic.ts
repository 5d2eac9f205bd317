// Durable, atomic file placement: fsync the file, rename it over its final name,
// then fsync the directory so the rename itself survives a power loss.

import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function commitFile(tempPath: string, finalPath: string): Promise<void> {
  await fsyncPath(tempPath);
  await rename(tempPath, finalPath);
  await fsyncPath(dirname(finalPath));
}
