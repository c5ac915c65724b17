// The bundlers' entry: the exercise (exercise.js) with the model files beside the page.
import { runExercise } from "./exercise.js";

await runExercise(new URL("models/", document.baseURI).href);
