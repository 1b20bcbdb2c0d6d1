/**
 * Every register driver against its emulator over a real pty: one line per protocol (suite.ts has the tests,
 * targets.ts the protocols).
 */
import t from 'tap';
import { conformance } from './suite.ts';
import { shtrih } from './targets.ts';

t.setTimeout(600_000);

conformance(t, shtrih);
