cd /work/wt/scripts && export PYTHONPATH=/work/wt/scripts/src LANNER_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test
