/* Entry point of the advisors' console (a native ES module, no build step). See docs/console.md
 * for the module map. */
import { HANDLERS } from "./dispatch.js";
import { start } from "./app.js";

start(HANDLERS);
