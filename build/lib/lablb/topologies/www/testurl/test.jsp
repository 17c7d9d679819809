<!doctype html>
<title>lablb health check</title>
<p>OK: this page is what the balancers' HTTP_GET checker fetches and hashes.</p>
