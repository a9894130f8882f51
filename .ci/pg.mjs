// Creates, drops or pings a database for CI without needing psql: node .ci/pg.mjs create|drop|ping URL [NAME]
import pg from 'pg';

const [verb, url, name] = process.argv.slice(2);
if (name !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
await client.connect();
try {
  if (verb === 'create') await client.query(`create database ${name}`);
  else if (verb === 'drop') await client.query(`drop database if exists ${name} with (force)`);
  else if (verb === 'ping') await client.query('select 1');
  else throw new Error(`unknown verb ${verb}`);
} finally {
  await client.end();
}
