// The house rules: imports point downward only (cli -> commands -> core -> backends, serving -> settings -> lib),
// no cycles. `npm run lint:layers` checks them; test/architecture.test.ts runs it with the suite.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'lib-knows-no-product', comment: 'src/lib holds no product knowledge: it imports nothing else of ours.',
      severity: 'error', from: { path: '^src/lib/' }, to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'settings-only-lib', comment: 'settings read the environment; they may use lib and nothing above it.',
      severity: 'error', from: { path: '^src/settings/' }, to: { path: '^src/', pathNot: '^src/(lib|settings)/' },
    },
    {
      name: 'backends-below-core', comment: 'a backend is key/value storage: no core, serving or commands.',
      severity: 'error', from: { path: '^src/backends/' }, to: { path: '^src/(core|serving|commands|cli)' },
    },
    {
      name: 'serving-below-core', comment: 'engines know nothing of repositories or commands.',
      severity: 'error', from: { path: '^src/serving/' }, to: { path: '^src/(core|backends|commands|cli)' },
    },
    {
      name: 'core-below-commands', comment: 'core returns data; rendering and parsing live in commands.',
      severity: 'error', from: { path: '^src/core/' }, to: { path: '^src/(commands|cli|mcp)/?' },
    },
    {
      name: 'commands-through-core', comment: 'commands call core; they do not reach storage or engines directly.',
      severity: 'error', from: { path: '^src/commands/' }, to: { path: '^src/(backends|serving)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'mcp-beside-commands', comment: 'the MCP server is a front end like the commands: it calls core, and knows no command.',
      severity: 'error', from: { path: '^src/mcp/' }, to: { path: '^src/(commands|cli|backends/|serving/)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'format-is-the-bottom-of-core', comment: 'formats parse and describe bytes; they know no store, transfer or engine.',
      severity: 'error', from: { path: '^src/core/format/' }, to: { path: '^src/core/', pathNot: '^src/core/(format|hashing)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
