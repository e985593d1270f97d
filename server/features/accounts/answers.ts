import { z } from 'zod';
import { answerTime } from '../../domain/fields.ts';
// a user's role is one of the server's roles, whose names the web's messages are keyed by
import { ROLES } from '../../access/viewer.ts';

/** A user as the API shows it (userJson): never the password hash. */
export const userAnswer = z
  .object({
    id: z.number(),
    username: z.string(),
    display_name: z.string().nullable(),
    role: z.enum(ROLES),
    /** {"community": 12}, {"grid": 40}, {"street": "610602001"} or {"district": "610602"}; null for an admin */
    scope: z.record(z.string(), z.union([z.number(), z.string()])).nullable(),
    member_id: z.number().nullable(),
    disabled: z.boolean(),
    version: z.number(),
    created_at: answerTime,
    updated_at: answerTime,
  })
  .meta({ id: 'User' });

/** The signed-in user, with what its role may do to each map layer. */
export const signedInAnswer = userAnswer
  .extend({
    permissions: z.record(z.string(), z.array(z.enum(['read', 'create', 'update', 'delete']))),
  })
  .meta({ id: 'SignedInUser' });

export const sessionAnswer = z.object({ token: z.string(), token_type: z.literal('Bearer'), expires_at: answerTime, user: signedInAnswer });

export const demoAccountsAnswer = z.object({
  /** null when there are no demo accounts */
  password: z.string().nullable(),
  accounts: z.array(z.object({ username: z.string(), role: z.string() })),
});

export const usersAnswer = z.object({ users: z.array(userAnswer) });

const accessKey = { id: z.number(), label: z.string(), expires_at: answerTime };
export const accessKeysAnswer = z.object({
  keys: z.array(z.object({ ...accessKey, created_at: answerTime, revoked_at: answerTime.nullable() })),
});
/** A new key: shown once, with the header a GIS client sends. */
export const newAccessKeyAnswer = z.object({ ...accessKey, token: z.string(), header: z.string() });
