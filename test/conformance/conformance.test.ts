/**
 * Every register driver against its emulator over a real pty, one line per protocol: suite.ts has the tests, each
 * protocol's file (shtrih.ts, atol.ts) its target.
 */
import t from 'tap';
import { conformance } from './suite.ts';
import { atol } from './atol.ts';
import { shtrih } from './shtrih.ts';

t.setTimeout(600_000);

conformance(t, shtrih);
conformance(t, atol);
