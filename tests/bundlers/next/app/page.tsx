"use client";
// A client component, as a Next.js user writes one: the engine starts once the page is in the
// browser (useEffect), never during server rendering, and once per page: React runs effects
// twice in development (Strict Mode), and a second engine would load the model again.
import { useEffect } from "react";
import { runExercise } from "../../app/exercise.js";

let started: Promise<void> | null = null;

export default function Page() {
  useEffect(() => {
    started ??= runExercise(new URL(`${process.env.TRIAGE_BASE_PATH}/models/`, window.location.origin).href);
  }, []);
  return (
    <main>
      <output id="worker" />
      <output id="main" />
    </main>
  );
}
