import request from 'supertest';
import { it } from 'vitest';
import { openTestDatabase } from '../tests/support/databases.ts';
import { testApp } from '../tests/support/app.ts';
it('coverage', async () => {
  const test = await openTestDatabase();
  const app = await testApp(test.database, { as: 'leader' });
  let t = Date.now();
  const g = await request(app).get('/api/v1/coverage/grids?community=1');
  console.log(g.status, Date.now() - t, JSON.stringify(g.body.features?.[0]?.properties ?? g.body));
  t = Date.now();
  const c = await request(app).get('/api/v1/coverage/communities');
  console.log(c.status, Date.now() - t, JSON.stringify(c.body.features?.map((f: any) => f.properties) ?? c.body).slice(0, 3000));
  t = Date.now();
  const gaps = await request(app).get('/api/v1/coverage/gaps?community=1&reach_m=150');
  console.log(gaps.status, Date.now() - t, gaps.body.numberReturned, gaps.body.households, JSON.stringify(gaps.body.features?.slice(0, 2)));
  await test.drop();
}, 300_000);
