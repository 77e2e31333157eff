/** Test file whose default export is not a job. */
export default { name: 'nope' };
