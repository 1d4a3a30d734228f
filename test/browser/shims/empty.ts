// Stands in for a package that is not installed (see resume.test.ts).
export {};
