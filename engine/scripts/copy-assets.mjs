// Copies the non-TypeScript assets of the engine (SQL migrations) next to the compiled code.
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
await cp(path.join(root, 'src/db/migrations'), path.join(root, 'dist/db/migrations'), { recursive: true });
