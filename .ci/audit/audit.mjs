// The GraphQL-over-HTTP spec's server audit (graphql-http's `auditServer`)
// against a running Followgraph: prints every result and the closing counts,
// and exits non-zero on any MUST or SHOULD failure.
//
//     node .ci/audit/audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const tally = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
let failed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  tally[level][1] += 1;
  if (r.status === 'ok') {
    tally[level][0] += 1;
    continue;
  }
  if (level !== 'MAY') failed += 1;
  console.log(`${r.status.toUpperCase()} ${r.name}\n    ${r.reason}`);
}
for (const [level, [ok, all]] of Object.entries(tally)) {
  console.log(`${level}: ${ok}/${all}`);
}
if (failed > 0) {
  console.log(`audit failed: ${failed} MUST or SHOULD requirements not met`);
  process.exit(1);
}
console.log('audit passed: every MUST and SHOULD holds');
