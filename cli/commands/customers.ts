import { Command, Option } from '@commander-js/extra-typings';
import {
  addCustomer,
  createApiKey,
  getCustomer,
  listApiKeys,
  listCustomers,
  revokeApiKey,
} from '../../core/tenants/index.js';
import { TributaryError } from '../../core/errors.js';
import { action, withPool } from '../context.js';
import { parseCustomerId, parseJsonObject, parseKeyId } from '../options.js';

export function customersCommand(): Command {
  const customers = new Command('customers').description('customers (tenants) of the platform');
  customers
    .command('add')
    .description('add a customer and print its first API key (shown once)')
    .argument('<id>', 'customer id: 1-64 letters, digits, "_", "." or "-"', parseCustomerId)
    .option('--name <name>', 'display name (default: the id)')
    .addOption(
      new Option('--settings <json>', 'settings as a JSON object, e.g. {"velocity_max_records": 20}')
        .argParser(parseJsonObject)
        .default({}),
    )
    .action(
      action((id, options) =>
        withPool(async (pool) => {
          await addCustomer(pool, id, options.name ?? id, options.settings);
          const key = await createApiKey(pool, id);
          process.stdout.write(`customer ${id} added\napi key (shown once, store it now): ${key.key}\n`);
          return 0;
        }),
      ),
    );
  customers
    .command('list')
    .description('list customers')
    .option('--json', 'print JSON')
    .action(
      action((options) =>
        withPool(async (pool) => {
          const rows = await listCustomers(pool);
          if (options.json === true) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else {
            for (const c of rows) {
              process.stdout.write(
                `${c.customerId}\t${c.name}\t${c.createdAt.toISOString()}\t${JSON.stringify(c.settings)}\n`,
              );
            }
          }
          return 0;
        }),
      ),
    );
  return customers;
}

export function keysCommand(): Command {
  const keys = new Command('keys').description("customers' API keys");
  keys
    .command('create')
    .description('create another API key for a customer (shown once)')
    .argument('<customer>', 'customer id', parseCustomerId)
    .action(
      action((customer) =>
        withPool(async (pool) => {
          const key = await createApiKey(pool, customer);
          process.stdout.write(`key ${key.keyId} for ${customer} (shown once, store it now): ${key.key}\n`);
          return 0;
        }),
      ),
    );
  keys
    .command('revoke')
    .description('revoke an API key (effective within 30 s on running servers)')
    .argument('<key-id>', 'the key id (the 12 hex characters after trb_), or the whole key', parseKeyId)
    .action(
      action((keyId) =>
        withPool(async (pool) => {
          await revokeApiKey(pool, keyId);
          process.stdout.write(`key ${keyId} revoked\n`);
          return 0;
        }),
      ),
    );
  keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .argument('[customer]', 'only this customer', parseCustomerId)
    .action(
      action((customer) =>
        withPool(async (pool) => {
          const listed = await listApiKeys(pool, customer);
          // No keys and no such customer: say so, rather than print what looks like "no keys".
          if (
            customer !== undefined &&
            listed.length === 0 &&
            (await getCustomer(pool, customer)) === undefined
          )
            throw new TributaryError('NOT_FOUND', `no customer ${customer}`);
          for (const k of listed) {
            const state = k.revokedAt === null ? 'active' : `revoked ${k.revokedAt.toISOString()}`;
            process.stdout.write(`${k.keyId}\t${k.customerId}\t${k.prefix}…\t${state}\n`);
          }
          return 0;
        }),
      ),
    );
  return keys;
}
