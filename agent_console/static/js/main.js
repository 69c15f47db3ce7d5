/* Entry point of the advisors' console (a native ES module, no build step). See docs/console.md
 * for the module map. */
import { start } from "./app.js";

start();
