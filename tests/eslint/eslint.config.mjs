// ESLint for the LuCI app (tests/eslint/run copies this next to the installed ESLint and
// runs it from the repository root, the base its file patterns are relative to).
import js from '@eslint/js';
import globals from 'globals';

// A LuCI module is the body of the function luci.js's L.require() evaluates it in:
// (function(window, document, L, <one parameter per 'require x [as y]'>) { ... }). The
// processor wraps it the same way (on its first line, so line numbers stay), which makes
// the required names defined and a top-level `return` legal, as at run time.
const requires = /^(?:\s+|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/|'[^']*';?|"[^"]*";?)*/;
const luci = {
	preprocess(text) {
		const params = [ 'window', 'document', 'L' ];
		for (const [ , dep, as ] of requires.exec(text)[0].matchAll(/['"]require\s+(\S+)(?:\s+as\s+(\S+))?['"]/g))
			params.push(as ?? dep.replace(/[^a-zA-Z0-9_]/g, '_'));
		return [ `(function(${params.join(', ')}) { ${text}\n});\n` ];
	},
	postprocess: messages => messages.flat(),
	supportsAutofix: false
};

export default [
	{
		files: [ 'package/luci-app-fw4-offload/htdocs/**/*.js' ],
		plugins: { luci: { processors: { module: luci } } },
		processor: 'luci/module',
		...js.configs.recommended,
		languageOptions: {
			ecmaVersion: 2022,
			sourceType: 'script',
			globals: {
				...globals.browser,
				// cbi.js's globals (BOOTSTRAP.md, 3.1)
				E: 'readonly', _: 'readonly', N_: 'readonly', isElem: 'readonly',
				cbi_update_table: 'readonly'
			}
		},
		rules: {
			...js.configs.recommended.rules,
			'no-unused-vars': [ 'error', { args: 'none' } ],
			'prefer-const': 'error',
			'no-var': 'error',
			eqeqeq: [ 'error', 'smart' ]
		}
	}
];
