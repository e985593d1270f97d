// `npm run schema`: migrate a fresh embedded database and write from it what is generated from the schema:
// sql/README.md (what fires on each table) and server/db/tables.generated.ts (Kysely's table types).
import { writeFile } from 'node:fs/promises';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { SCHEMA_DOC_PATH, schemaDoc } from './db/schema-doc.ts';
import { SCHEMA_TYPES_PATH, schemaTypes } from './db/schema-types.ts';

const database = await openDatabase({});
try {
  await migrate(database.db);
  await writeFile(SCHEMA_DOC_PATH, await schemaDoc(database.db));
  await writeFile(SCHEMA_TYPES_PATH, await schemaTypes(database.db));
} finally {
  await database.close();
}
