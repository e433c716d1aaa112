import asyncio
import json

from django.core.management.base import BaseCommand, CommandError

from voice.benchmark import bench


class Command(BaseCommand):
    help = "Run N concurrent calls of M turns on fake providers (standard profile); report the pipeline overhead."

    def add_arguments(self, parser):
        parser.add_argument("--calls", type=int, default=1)
        parser.add_argument("--turns", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        if options["calls"] < 1 or options["turns"] < 1:
            raise CommandError("--calls and --turns must be at least 1.")
        report = asyncio.run(bench(options["calls"], options["turns"], options["seed"]))
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        for key, value in report.items():
            self.stdout.write(f"{key}: {value}")
