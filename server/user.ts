// npm run user -- add <username> --role <role> [--scope community=12|grid=40|street=610602001|district=610602] [--member <id>] [--name <display name>]
// npm run user -- list
// npm run user -- disable <username> | enable <username>
// npm run user -- reset-password <username>
// Manages users in the configured database (DATABASE_URL, or the embedded one in DATA_DIR). A new or reset
// password is read from the first line of standard input when it is not a terminal (`echo … | npm run user …`),
// else generated and printed once.
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { ROLES } from './access/viewer.ts';
import { loadConfig } from './config.ts';
import { findUsers } from './features/accounts/queries.ts';
import { changeUser, createUser, newUserSchema, passwordSchema, scopeSchema } from './features/accounts/service.ts';
import { DomainError } from './domain/errors.ts';
import { createLogger } from './logger.ts';
import { openMigratedDatabase } from './start.ts';

const usage = `usage: npm run user -- add <username> --role ${ROLES.join('|')} [--scope community=12|grid=40|street=610602001|district=610602] [--member <id>] [--name <display name>]
       npm run user -- list
       npm run user -- disable <username> | enable <username> | reset-password <username>`;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { role: { type: 'string' }, scope: { type: 'string' }, member: { type: 'string' }, name: { type: 'string' } },
});
const [command, username] = positionals;
if (!['add', 'list', 'disable', 'enable', 'reset-password'].includes(command) || (command !== 'list' && !username)) {
  console.error(usage);
  process.exit(2);
}

/** A password from standard input, or a new random one that is printed once. */
async function newPassword(): Promise<{ password: string; generated: boolean }> {
  if (!process.stdin.isTTY) {
    const password = (await text(process.stdin)).split(/\r?\n/)[0];
    if (password) return { password: passwordSchema.parse(password), generated: false };
  }
  return { password: randomBytes(12).toString('base64url'), generated: true };
}

async function newUserInput() {
  const { password, generated } = await newPassword();
  const input = newUserSchema.parse({
    username,
    password,
    role: values.role,
    scope: parseScope(values.scope),
    member_id: values.member ? Number(values.member) : undefined,
    display_name: values.name,
  });
  return { input, generated };
}

function parseScope(given: string | undefined) {
  if (!given) return undefined;
  const [kind, value] = given.split('=');
  return scopeSchema.parse({ [kind]: kind === 'community' || kind === 'grid' ? Number(value) : value });
}

const actor = { username: `command line (${userInfo().username})` };
let database: Awaited<ReturnType<typeof openMigratedDatabase>> | undefined;
try {
  // arguments are checked before the database is opened: a mistake answers at once
  const newUser = command === 'add' ? await newUserInput() : undefined;
  const password = command === 'reset-password' ? await newPassword() : undefined;
  database = await openMigratedDatabase(loadConfig(), createLogger({ LOG_LEVEL: 'warn' }));
  if (command === 'list') {
    for (const user of await findUsers(database.db)) {
      const scope =
        user.scope_district_code ??
        user.scope_street_code ??
        (user.scope_community_id && `community ${user.scope_community_id}`) ??
        (user.scope_grid_id && `grid ${user.scope_grid_id}`) ??
        'everything';
      console.log([user.id, user.username, user.role, scope, user.disabled ? 'disabled' : 'active'].join('\t'));
    }
  } else if (newUser) {
    const user = await createUser(database.db, newUser.input, actor);
    console.log(`added ${user.username} (${user.role}, id ${user.id})${newUser.generated ? `; password: ${newUser.input.password}` : ''}`);
  } else {
    const [user] = await findUsers(database.db, { username });
    if (!user) throw new DomainError('account.not_found', `no user ${username}`, {}, { id: username });
    if (password) {
      await changeUser(database.db, user.id, { password: password.password }, actor);
      console.log(`${username}: password reset, sessions ended${password.generated ? `; new password: ${password.password}` : ''}`);
    } else {
      await changeUser(database.db, user.id, { disabled: command === 'disable' }, actor);
      console.log(`${username}: ${command}d${command === 'disable' ? ', sessions ended' : ''}`);
    }
  }
} catch (error) {
  const e = error as DomainError & { issues?: { path: PropertyKey[]; message: string }[] };
  console.error(e.issues ? e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n') : (e.detail ?? e.message));
  process.exitCode = 1;
} finally {
  await database?.close();
}
