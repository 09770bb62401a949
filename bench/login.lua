-- bench/login.lua: POST /auth/login as the default scenario's alice, for wrk
--   wrk -t1 -c50 -d10s -s bench/login.lua http://127.0.0.1:AUTH_PORT/auth/login
wrk.method = "POST"
wrk.body = '{"email":"alice@example.com","password":"alice-password"}'
wrk.headers["Content-Type"] = "application/json"
